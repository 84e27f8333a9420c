package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/connectors/httpapi"
	"github.com/inlet-dev/inlet/connectors/postgres"
	"github.com/inlet-dev/inlet/engine"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/internal/health"
	"github.com/inlet-dev/inlet/internal/statuspage"
)

// processStart is when this process started, reported in status.json so
// a reader can tell this run's incidents from a previous run's.
var processStart = time.Now().UTC()

// liveState is what `inlet run` shows on its status page: the health
// registry from the start, sources and engine once they exist.
type liveState struct {
	reg   *health.Registry
	mu    sync.Mutex
	srcs  []*postgres.Source
	hsrcs []*httpapi.Source
	eng   *engine.Engine
}

func (l *liveState) set(srcs []*postgres.Source, hsrcs []*httpapi.Source, eng *engine.Engine) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.srcs, l.hsrcs, l.eng = srcs, hsrcs, eng
}

func (l *liveState) state() statuspage.State {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := statuspage.State{Updated: time.Now().UTC(), Started: processStart, Running: true, Stages: l.reg.Stages()}
	if l.eng != nil {
		st.Sinks = l.eng.Status()
	}
	for _, s := range l.srcs {
		st.Sources = append(st.Sources, s.Status())
	}
	for _, s := range l.hsrcs {
		st.HTTP = append(st.HTTP, s.Status())
	}
	return st
}

// livePage is the status page of the pipeline this process runs.
func livePage(ctx context.Context, c *config.Config, l *liveState, log *slog.Logger) (http.Handler, error) {
	return statuspage.New(ctx, []statuspage.Pipeline{{Config: c, State: l.state, OpenStore: storeOpener(c)}}, log)
}

func storeOpener(c *config.Config) func(context.Context) (checkpoint.Store, error) {
	return func(ctx context.Context) (checkpoint.Store, error) { return OpenStore(ctx, c) }
}

// reportedFresh is how old a status.json may be and its pipeline still
// count as running (it is written every second).
const reportedFresh = 5 * time.Second

// reportedState reads a pipeline's status.json for inlet serve.
func reportedState(c *config.Config) statuspage.State {
	st, err := readStatus(c.StateDir)
	switch {
	case err != nil:
		return statuspage.State{Reason: err.Error()}
	case st == nil:
		return statuspage.State{Reason: "no status report in " + c.StateDir + " (start it with inlet run -c " + c.File() + ")"}
	}
	out := statuspage.State{Updated: st.Updated, Started: st.Started, Sinks: st.Sinks, Sources: st.Sources, HTTP: st.HTTP}
	if age := time.Since(st.Updated); age > reportedFresh {
		out.Reason = fmt.Sprintf("last status report %s ago (pid %d)", age.Round(time.Second), st.PID)
	} else {
		out.Running = true
	}
	return out
}

// Serve serves a read-only status page over several pipelines' state
// dirs on addr until ctx ends: the joined lineage graph, each pipeline's
// status.json, incident journal and checkpoint store.
func Serve(ctx context.Context, cfgs []*config.Config, addr string, log *slog.Logger) error {
	var pipes []statuspage.Pipeline
	for _, c := range cfgs {
		pipes = append(pipes, statuspage.Pipeline{Config: c, State: func() statuspage.State { return reportedState(c) }, OpenStore: storeOpener(c)})
	}
	page, err := statuspage.New(ctx, pipes, log)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.Handle("/", page)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--http %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Info("serving the status page", "addr", l.Addr().String(), "pipelines", len(cfgs))
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
