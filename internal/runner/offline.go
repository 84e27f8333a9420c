package runner

import (
	"context"
	"log/slog"

	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/internal/kafka"
)

// offline is what a command that rewrites the sinks' positions while no
// engine runs (replay, rebuild, adopt-kafka) holds: the state dir's lock
// (after checking that no engine of the pipeline's consumer group runs),
// the checkpoint store, Kafka (if asked for) and the sinks in only (every
// one when only is empty).
type offline struct {
	store   checkpoint.Store
	brokers *kafka.Cluster // nil unless asked for
	sinks   []connectors.Sink
	undo    []func()
}

func openOffline(ctx context.Context, c *config.Config, cmd string, only map[string]bool, withKafka bool, log *slog.Logger) (_ *offline, err error) {
	o := &offline{}
	defer func() {
		if err != nil {
			o.close() // o, not the result: that is nil on error
		}
	}()
	lock, err := LockStateDir(c.StateDir)
	if err != nil {
		return nil, err
	}
	o.undo = append(o.undo, func() { lock.Close() })
	if err := refuseRunningEngines(ctx, c, cmd, log); err != nil {
		return nil, err
	}
	if o.store, err = OpenStore(ctx, c); err != nil {
		return nil, err
	}
	o.undo = append(o.undo, func() { o.store.Close() })
	if withKafka {
		var stop func()
		if o.brokers, stop, err = Kafka(ctx, c, log); err != nil {
			return nil, err
		}
		o.undo = append(o.undo, stop)
	}
	if o.sinks, err = OpenSinks(ctx, c, only, log); err != nil {
		return nil, err
	}
	o.undo = append(o.undo, func() { CloseSinks(o.sinks) })
	return o, nil
}

// close releases what openOffline took, in reverse.
func (o *offline) close() {
	for i := len(o.undo) - 1; i >= 0; i-- {
		o.undo[i]()
	}
}
