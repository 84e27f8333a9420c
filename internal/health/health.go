// Package health is what /readyz reports: each stage of a running pipeline
// (the process itself, every source, the engine) says whether it is ready
// and, when it is not, why. The process is ready only when every stage is.
package health

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Registry holds the stages of one process; safe for concurrent use.
type Registry struct {
	mu     sync.Mutex
	stages map[string]*state
}

type state struct {
	ready  bool
	reason string
	since  time.Time
}

// New returns an empty registry (ready: no stage objects).
func New() *Registry { return &Registry{stages: map[string]*state{}} }

// Stage registers a stage, not ready ("starting") until it says so, and
// returns its handle. Registering a name twice returns the same stage.
func (r *Registry) Stage(name string) *Stage {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.stages[name]; !ok {
		r.stages[name] = &state{reason: "starting", since: time.Now()}
	}
	return &Stage{r: r, name: name}
}

// Check reports whether every stage is ready, and one line per stage
// ("name: ready" or "name: not ready: reason (for 3s)"), sorted by name.
func (r *Registry) Check() (bool, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ok := true
	names := make([]string, 0, len(r.stages))
	for n := range r.stages {
		names = append(names, n)
	}
	sort.Strings(names)
	lines := make([]string, 0, len(names))
	for _, n := range names {
		s := r.stages[n]
		if s.ready {
			lines = append(lines, n+": ready")
			continue
		}
		ok = false
		lines = append(lines, fmt.Sprintf("%s: not ready: %s (for %s)", n, s.reason, time.Since(s.since).Round(time.Second)))
	}
	return ok, lines
}

// ServeHTTP answers /readyz: 200 when every stage is ready, else 503; the
// body lists every stage with its reason.
func (r *Registry) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	ok, lines := r.Check()
	body := strings.Join(lines, "\n") + "\n"
	if !ok {
		http.Error(w, body, http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte(body))
}

// Stage is one stage's handle. A nil *Stage ignores every call, so code
// that reports health works without a registry.
type Stage struct {
	r    *Registry
	name string
}

// Ready marks the stage ready.
func (s *Stage) Ready() { s.set(true, "") }

// NotReady marks the stage not ready and says why.
func (s *Stage) NotReady(reason string) { s.set(false, reason) }

func (s *Stage) set(ready bool, reason string) {
	if s == nil {
		return
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	st := s.r.stages[s.name]
	if st.ready != ready || st.reason != reason {
		if st.ready != ready {
			st.since = time.Now()
		}
		st.ready, st.reason = ready, reason
	}
}
