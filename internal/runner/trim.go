package runner

import (
	"context"
	"log/slog"
	"time"

	"github.com/inlet-dev/inlet/engine"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/internal/kafka"
)

// trimBroker keeps the embedded broker bounded until ctx ends: every
// minute (or half the retention, if shorter) it deletes the records every
// sink has committed that are older than kafka.retention.
func trimBroker(ctx context.Context, c *config.Config, brokers *kafka.Cluster, eng *engine.Engine, log *slog.Logger) {
	retention, _ := c.EmbeddedBroker()
	every := min(time.Minute, max(retention/2, time.Second))
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := kafka.Trim(ctx, brokers, eng.Committed(), retention, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("embedded broker: trimming committed records failed; retrying", "err", err)
		case n > 0:
			brokerTrimmed.Add(float64(n))
			log.Debug("embedded broker: deleted records every sink has committed", "records", n, "retention", retention)
		}
	}
}
