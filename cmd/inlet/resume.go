package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/inlet-dev/inlet/internal/runner"
)

// cmdResume asks the running inlet to continue a quarantined table.
func cmdResume(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("resume", flag.ContinueOnError)
	table := fs.String("table", "", "the quarantined table (schema.table, or an HTTP stream's name)")
	sink := fs.String("sink", "", "only this sink (default: every sink that quarantined it)")
	c, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	if *table == "" {
		return errors.New("resume needs --table (inlet status lists quarantined tables)")
	}
	found := false
	for _, t := range runner.Tables(c) {
		found = found || t.Name == *table
	}
	if !found {
		return fmt.Errorf("--table %s is not a table of pipeline %s", *table, c.Pipeline)
	}
	if lock, err := runner.LockStateDir(c.StateDir); err == nil {
		lock.Close()
		fmt.Fprintf(out, "no inlet is running for %s: a quarantined table is retried when inlet run starts\n", c.Pipeline)
		return nil
	}
	if err := runner.RequestResume(c, *table, *sink); err != nil {
		return err
	}
	fmt.Fprintf(out, "resume of %s requested; the running inlet takes it within a second (see inlet status)\n", *table)
	return nil
}
