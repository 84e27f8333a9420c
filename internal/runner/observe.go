package runner

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/inlet-dev/inlet/connectors/clickhouse"
	"github.com/inlet-dev/inlet/engine"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/internal/incident"
	"github.com/inlet-dev/inlet/internal/openlineage"
	"github.com/inlet-dev/inlet/lake"
)

// lineageEvents sends an OpenLineage run per table of each sink batch:
// START, then COMPLETE with row counts when the batch committed, or FAIL
// with the error when it failed (the engine retries it: a later COMPLETE
// follows in another run). Events go off the sinks' goroutines: a slow or
// absent receiver never slows a commit (events that do not fit the queue
// are dropped and logged).
type lineageEvents struct {
	c   *config.Config
	em  *openlineage.Emitter
	q   chan lineageBatch
	log *slog.Logger
}

// lineageBatch is a batch to report; err is nil when it committed.
type lineageBatch struct {
	b   engine.BatchStats
	err error
}

func newLineageEvents(c *config.Config, log *slog.Logger) *lineageEvents {
	if c.Lineage.OpenLineage == nil {
		return nil
	}
	return &lineageEvents{c: c, em: openlineage.New(c.Pipeline, c.Lineage.OpenLineage, Version), q: make(chan lineageBatch, 1024), log: log}
}

// batch queues a committed batch's events.
func (l *lineageEvents) batch(b engine.BatchStats) { l.queue(lineageBatch{b: b}) }

// failed queues a failed batch's events (START, FAIL).
func (l *lineageEvents) failed(b engine.BatchStats, err error) { l.queue(lineageBatch{b: b, err: err}) }

func (l *lineageEvents) queue(lb lineageBatch) {
	if l == nil {
		return
	}
	select {
	case l.q <- lb:
	default:
		l.log.Warn("openlineage: event queue full; dropped a batch's events", "sink", lb.b.Sink)
	}
}

// run sends queued events until ctx ends.
func (l *lineageEvents) run(ctx context.Context) {
	if l == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case lb := <-l.q:
			b := lb.b
			for table, rows := range b.Tables {
				in, out := openlineage.Datasets(l.c, table)
				for i := range in {
					in[i].Rows = rows
				}
				var mine []openlineage.Dataset
				for _, d := range out {
					if sinkOf(d.Namespace) == b.Sink {
						d.Rows = rows
						mine = append(mine, d)
					}
				}
				run, err := l.em.Start(ctx, openlineage.Window{Table: table, Inputs: in, Outputs: mine})
				if err == nil {
					if lb.err != nil {
						err = run.Fail(ctx, lb.err)
					} else {
						err = run.Complete(ctx)
					}
				}
				if err != nil && ctx.Err() == nil {
					l.log.Warn("openlineage: event not delivered", "table", table, "sink", b.Sink, "err", err)
				}
			}
		}
	}
}

// sinkOf names the sink an OpenLineage output dataset belongs to.
func sinkOf(namespace string) string {
	if strings.HasPrefix(namespace, "clickhouse") {
		return clickhouse.SinkName
	}
	return lake.SinkName
}

// escalate checks the incident record every minute and escalates what has
// been open longer than incidents.escalate_after.
func escalate(ctx context.Context, c *config.Config, log *slog.Logger) {
	e := incident.NewEscalator(c.StateDir, time.Duration(c.Incidents.EscalateAfter), log)
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if open, err := e.Check(time.Now()); err != nil {
			log.Warn("incident escalation check failed", "err", err)
		} else {
			escalatedIncidents.Set(float64(len(open)))
		}
	}
}

// Version is inlet's version, set by the CLI (it names the producer of
// lineage events).
var Version = "dev"
