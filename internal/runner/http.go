package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/inlet-dev/inlet/internal/health"
)

// serveHTTP serves /metrics (Prometheus), /healthz (the process is up),
// /readyz (every stage in reg is ready; the body lists each stage, with
// why it is not) and /debug/pprof on addr.
func serveHTTP(ctx context.Context, addr string, reg *health.Registry, log *slog.Logger) (func(), error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index) // profiles for the on-call engineer
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.Handle("/readyz", reg)
	addr, err := ListenAddr(addr)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if host, _, _ := net.SplitHostPort(addr); !net.ParseIP(host).IsLoopback() && host != "localhost" {
		log.Warn("serving metrics, health and pprof beyond this machine; they have no authentication: put them behind a firewall or proxy", "addr", addr)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "err", err)
		}
	}()
	log.Info("serving metrics and health", "addr", l.Addr().String())
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}, nil
}

// ListenAddr is the address --http listens on: a bare port (":9464" or
// "9464") means 127.0.0.1, so metrics and profiles stay on this machine
// unless all interfaces are asked for explicitly ("0.0.0.0:9464",
// "[::]:9464") or a host is named.
func ListenAddr(flag string) (string, error) {
	if _, err := strconv.ParseUint(flag, 10, 16); err == nil {
		flag = ":" + flag
	}
	host, port, err := net.SplitHostPort(flag)
	if err != nil {
		return "", fmt.Errorf("%q is not [host]:port; write e.g. :9464 (this machine only) or 0.0.0.0:9464 (all interfaces)", flag)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}
