package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/inlet-dev/inlet/internal/runner"
)

func cmdVacuum(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("vacuum", flag.ContinueOnError)
	dry := fs.Bool("dry-run", false, "list what would be deleted, delete nothing")
	c, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runner.Vacuum(ctx, c, *dry, out)
}
