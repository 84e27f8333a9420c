package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/internal/runner"
)

func cmdServe(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfgs files
	fs.Var(&cfgs, "c", "pipeline config file (repeat for several pipelines)")
	addr := fs.String("http", "", "address to serve the status page on (e.g. 127.0.0.1:9464)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(cfgs) == 0 || *addr == "" {
		return errors.New("serve needs -c FILE (repeat for several pipelines) and --http ADDR")
	}
	var loaded []*config.Config
	for _, f := range cfgs {
		c, err := config.Load(f)
		if err != nil {
			return err
		}
		if err := c.Validate(); err != nil {
			return fmt.Errorf("invalid config %s:\n%w", f, err)
		}
		loaded = append(loaded, c)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runner.Serve(ctx, loaded, *addr, slog.New(slog.NewTextHandler(os.Stderr, nil)))
}
