package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/inlet-dev/inlet/internal/runner"
	"github.com/inlet-dev/inlet/internal/verify"
)

// errDrift makes inlet exit 1 after printing a report that shows drift.
var errDrift = errors.New("drift found (see above)")

func cmdVerify(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	table := fs.String("table", "", "only these tables (schema.table, comma-separated)")
	sample := fs.Int("sample", 5, "example keys to print per kind of drift")
	wait := fs.Duration("wait", 0, "how long to wait for the pipeline to pass the compare position (default 2m)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	c, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := verify.Options{Examples: *sample, Wait: *wait,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if *table != "" {
		o.Tables = strings.Split(*table, ",")
	}
	if store, err := runner.OpenStore(ctx, c); err == nil {
		defer store.Close()
		o.Store = store
	}
	if c.Lake != nil {
		if o.Lake, err = runner.OpenLake(c); err != nil {
			return err
		}
	}
	rep, err := verify.Run(ctx, c, o)
	if err != nil {
		return err
	}
	// The latest result per table, for the status page and /metrics.
	if err := verify.Record(c.StateDir, rep, time.Now()); err != nil {
		fmt.Fprintf(os.Stderr, "inlet verify: could not record the result in %s: %v\n", c.StateDir, err)
	}
	if *asJSON {
		err = rep.WriteJSON(out)
	} else {
		err = rep.Write(out)
	}
	if err != nil {
		return err
	}
	if rep.Drifted() {
		return errDrift
	}
	return nil
}
