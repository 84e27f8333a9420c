package runner

import (
	"log/slog"
	"time"

	"github.com/inlet-dev/inlet/engine"
	"github.com/inlet-dev/inlet/internal/statuspage"
)

// stallWatch records an incident when a sink stalls (records wait, no
// commit for statuspage.StallAfter, and no error yet: a server frozen
// mid-write shows none until the client times out) and resolves it when
// the sink commits again.
type stallWatch struct {
	log   *slog.Logger
	since map[string]time.Time // stalled sinks: when seen stalled
}

func (s *stallWatch) check(sinks []engine.SinkStatus, now time.Time) {
	if s.since == nil {
		s.since = map[string]time.Time{}
	}
	for _, st := range sinks {
		d, stalled := statuspage.Stalled(st, processStart, now)
		seen, was := s.since[st.Sink]
		switch {
		case stalled && !was:
			s.since[st.Sink] = now.Add(-d)
			s.log.Error("incident: sink stalled: no commit while records wait; is its server responding?", "sink", st.Sink,
				"no_commit_for", d.Round(time.Second), "lag_records", st.LagRecords)
		case !stalled && was && st.State != "retrying" && st.State != "failed":
			delete(s.since, st.Sink)
			s.log.Info("incident resolved: sink committing again after a stall", "sink", st.Sink, "stalled_for", now.Sub(seen).Round(time.Second))
		case !stalled && was:
			delete(s.since, st.Sink) // the sink's own retry incident takes over
		}
	}
}
