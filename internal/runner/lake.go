package runner

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/inlet-dev/inlet/internal/config"
)

// Vacuum deletes (or, with dryRun, lists) each lake table's data files
// that no version the log keeps references and that are older than
// lake.deleted_file_retention. It does not need the state dir: what it
// deletes no reader or writer can still want.
func Vacuum(ctx context.Context, c *config.Config, dryRun bool, out io.Writer) error {
	if c.Lake == nil {
		return fmt.Errorf("no lake configured")
	}
	lk, err := OpenLake(c)
	if err != nil {
		return err
	}
	verb := "deleted"
	if dryRun {
		verb = "would delete"
	}
	var total, bytes int64
	for _, t := range Tables(c) {
		if err := ctx.Err(); err != nil {
			return err
		}
		tbl, err := lk.Table(t.Name)
		if err != nil {
			return err
		}
		// Sizes are read before the files go.
		files, err := lk.Vacuum(t.Name, time.Now(), true)
		if err != nil {
			return err
		}
		sizes := map[string]int64{}
		for _, f := range files {
			if size, _, err := tbl.Stat(f); err == nil {
				sizes[f] = size
			}
		}
		if !dryRun {
			if files, err = lk.Vacuum(t.Name, time.Now(), false); err != nil {
				return err
			}
		}
		for _, f := range files {
			fmt.Fprintf(out, "%s: %s %s (%d bytes)\n", t.Name, verb, f, sizes[f])
			total++
			bytes += sizes[f]
		}
	}
	fmt.Fprintf(out, "vacuum: %s %d files, %d bytes\n", verb, total, bytes)
	return nil
}
