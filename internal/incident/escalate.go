package incident

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// MsgEscalated starts the record an escalation logs; it carries the
// incident's id (incident_id), so the journal files it under the incident.
const MsgEscalated = "incident escalated: open longer than incidents.escalate_after"

// Escalator finds the incidents that stay open too long. The runner calls
// Check periodically (say every minute); each incident is logged at error
// once, with MsgEscalated, and every open one past the limit is returned
// for a metric or a status page banner.
type Escalator struct {
	path  string
	after time.Duration
	log   *slog.Logger
	mu    sync.Mutex
	done  map[string]bool
}

// NewEscalator watches the journal of the pipeline whose state is in
// stateDir; after is incidents.escalate_after.
func NewEscalator(stateDir string, after time.Duration, log *slog.Logger) *Escalator {
	return &Escalator{path: Path(stateDir), after: after, log: log, done: map[string]bool{}}
}

// Check returns the incidents open longer than the limit at now, oldest
// first, and logs those not escalated before (by this process, or by an
// earlier one: the journal holds its record).
func (e *Escalator) Check(now time.Time) ([]*Incident, error) {
	entries, err := Read(e.path, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("incident record: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*Incident
	for _, in := range Group(entries) {
		if !in.Open() || in.Duration(now) < e.after {
			continue
		}
		out = append(out, in)
		if e.done[in.ID] || escalated(in) {
			continue
		}
		e.done[in.ID] = true
		e.log.Error(MsgEscalated, "incident_id", in.ID, "title", in.Title, "stage", in.Stage,
			"open_for", in.Duration(now).Round(time.Second), "opened", in.Opened)
	}
	return out, nil
}

func escalated(in *Incident) bool {
	for _, e := range in.Entries {
		if strings.HasPrefix(e.Msg, "incident escalated") {
			return true
		}
	}
	return false
}

// MsgResolvedByOperator is what `inlet incidents resolve` records.
const MsgResolvedByOperator = "incident resolved: by an operator"
