package runner

import (
	"context"
	"log/slog"
	"time"

	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/internal/incident"
	"github.com/inlet-dev/inlet/lake"
)

// historyHorizon is how long the batch history and closed incidents are
// kept: the lake's log retention (what replay can still reach), 30 days
// by default.
func historyHorizon(c *config.Config) time.Duration {
	if c.Lake != nil && c.Lake.LogRetention > 0 {
		return time.Duration(c.Lake.LogRetention)
	}
	return lake.DefaultLogRetention
}

// pruneBookkeeping keeps what accumulates with every batch bounded: at
// start and then hourly it drops each sink's checkpoint history older
// than the horizon (the oldest batch kept carries the table versions of
// those dropped, so replay to it still works) and the incidents closed
// before it.
func pruneBookkeeping(ctx context.Context, c *config.Config, store checkpoint.Store, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		before := time.Now().Add(-historyHorizon(c))
		for _, sink := range SinkNames(c) {
			if n, err := store.Prune(ctx, sink, before); err != nil && ctx.Err() == nil {
				log.Warn("pruning the checkpoint history failed; retrying in an hour", "sink", sink, "err", err)
			} else if n > 0 {
				log.Info("checkpoint history pruned", "sink", sink, "batches", n, "before", before.Format(time.RFC3339))
			}
		}
		if n, err := incident.Prune(incident.Path(c.StateDir), before); err != nil {
			log.Warn("pruning the incident record failed; retrying in an hour", "err", err)
		} else if n > 0 {
			log.Info("incident record pruned", "lines", n, "before", before.Format(time.RFC3339))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
