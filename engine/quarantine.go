package engine

import (
	"errors"
	"time"

	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/internal/retry"
)

// Quarantine is a table one sink stopped applying: its partitions pause at
// the sink's position (nothing after it is lost or applied) while every
// other table keeps flowing. It ends with Engine.Resume (inlet resume) or a
// restart, which both re-read the table from where it stopped.
type Quarantine struct {
	Table string    `json:"table"`
	Topic string    `json:"topic"`
	Since time.Time `json:"since"`
	Error string    `json:"error"`
	Fix   string    `json:"fix,omitempty"`
}

// quarantineFor returns the table an Apply error names, when it is one
// retrying cannot fix; "" otherwise.
func quarantineFor(err error) (string, bool) {
	var te *connectors.TableError
	if !errors.As(err, &te) || retry.Classify(err) == retry.Retriable {
		return "", false
	}
	return te.Table, true
}

// quarantine pauses table for this sink and records the incident.
func (w *sinkRun) quarantine(table string, err error) {
	topic := ""
	for _, t := range w.e.o.Tables {
		if t.Name == table {
			topic = t.Topic
		}
	}
	fix := retry.Fix(err)
	if fix == "" {
		fix = "fix the cause (see the error), then run inlet resume --table " + table + " (or restart inlet); the table continues from where it stopped"
	}
	q := Quarantine{Table: table, Topic: topic, Since: time.Now(), Error: err.Error(), Fix: fix}
	w.mu.Lock()
	w.quarantined[topic] = q
	w.mu.Unlock()
	quarantinedTables.WithLabelValues(w.name).Set(float64(w.quarantinedCount()))
	w.e.o.Log.Error("incident: table failed and stopped in this sink (quarantined); the other tables keep flowing", "sink", w.name, "table", table, "err", err, "fix", fix)
}

func (w *sinkRun) isQuarantined(topic string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.quarantined[topic]
	return ok
}

func (w *sinkRun) quarantinedCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.quarantined)
}

// liftRequested takes the resume requests for this sink's quarantined
// tables: their partitions are then re-read from the sink's position.
func (w *sinkRun) liftRequested() {
	w.mu.Lock()
	var lifted []Quarantine
	for topic, q := range w.quarantined {
		if w.resume[q.Table] {
			delete(w.quarantined, topic)
			lifted = append(lifted, q)
		}
	}
	clear(w.resume)
	w.mu.Unlock()
	for _, q := range lifted {
		for k := range w.seen {
			if k.Topic == q.Topic {
				w.seen[k] = w.pos[k] // fill re-reads from the position
			}
		}
		w.e.o.Log.Info("incident resolved: table committed again after inlet resume", "sink", w.name, "table", q.Table, "quarantined_for", time.Since(q.Since).Round(time.Second))
	}
	quarantinedTables.WithLabelValues(w.name).Set(float64(w.quarantinedCount()))
}

// Resume lifts the quarantine of table in every sink that has it (sink ""
// or equal to the sink's name). It returns the sinks that had it.
func (e *Engine) Resume(table, sink string) []string {
	var out []string
	for _, w := range e.sinks {
		if sink != "" && sink != w.name {
			continue
		}
		w.mu.Lock()
		for _, q := range w.quarantined {
			if q.Table == table {
				w.resume[table] = true
				out = append(out, w.name)
			}
		}
		w.mu.Unlock()
	}
	return out
}
