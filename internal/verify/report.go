package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Write prints the report: a line per table, then the drift of each table
// that has some, with example keys.
func (r *Report) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "TABLE\tPOSTGRES\tCLICKHOUSE\tLAKE\tRESULT\tTIME\n")
	count := func(n int64) string {
		if n < 0 {
			return "-"
		}
		return fmt.Sprint(n)
	}
	for _, t := range r.Tables {
		res := "ok"
		switch {
		case t.Skipped != "":
			res = "skipped: " + t.Skipped
		case len(t.Drift) > 0 || len(t.Problems) > 0:
			res = "DRIFT"
			if t.Unconfirmed {
				res = "DRIFT (unconfirmed: the pipeline did not catch up in time)"
			}
		case t.InFlight > 0:
			res = fmt.Sprintf("ok (%d changing while compared, not judged)", t.InFlight)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", t.Table, t.Postgres, count(t.ClickHouse), count(t.Lake), res, t.Elapsed.Round(time.Millisecond))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, t := range r.Tables {
		if len(t.Drift) == 0 && len(t.Problems) == 0 && len(t.LakeUnchanged) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", t.Table)
		for _, d := range t.Drift {
			noun := "rows"
			if d.Rows == 1 {
				noun = "row"
			}
			what := map[string]string{Missing: "missing (in Postgres, not in " + d.Sink + ")", Extra: "extra (in " + d.Sink + ", not in Postgres)", Different: "different"}[d.Kind]
			cols := ""
			if len(d.Columns) > 0 {
				cols = " in " + strings.Join(d.Columns, ", ")
			}
			fmt.Fprintf(w, "  %s: %d %s %s%s; e.g. key %s\n", d.Sink, d.Rows, noun, what, cols, strings.Join(d.Examples, "; "))
		}
		for _, p := range t.Problems {
			fmt.Fprintf(w, "  problem: %s\n", p)
		}
		if len(t.LakeUnchanged) > 0 {
			fmt.Fprintf(w, "  note: the lake stores %s as TOAST-unchanged in some changes; compared with ClickHouse only\n", strings.Join(t.LakeUnchanged, ", "))
		}
	}
	return nil
}
