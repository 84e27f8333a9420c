package health

import (
	"sort"
	"time"
)

// StageState is one stage as the status page shows it.
type StageState struct {
	Name   string    `json:"name"`
	Ready  bool      `json:"ready"`
	Reason string    `json:"reason,omitempty"` // why not, when not ready
	Since  time.Time `json:"since"`            // when Ready last changed
}

// Stages returns every stage's state, sorted by name.
func (r *Registry) Stages() []StageState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]StageState, 0, len(r.stages))
	for n, s := range r.stages {
		out = append(out, StageState{Name: n, Ready: s.ready, Reason: s.reason, Since: s.since})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
