package clickhouse

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/internal/timefmt"
)

var (
	_ connectors.Describer = (*Sink)(nil)
	_ connectors.Reporter  = (*Sink)(nil)
)

// Describe implements connectors.Describer: the mirror table and the view
// analysts query.
func (s *Sink) Describe(ctx context.Context, t connectors.Table) (connectors.TableInfo, error) {
	mi, err := s.Mirror(ctx, t.Name)
	info := connectors.TableInfo{Where: mi.Table, Kind: "every version, ReplacingMergeTree", Query: mi.View,
		Exists: mi.Exists, Rows: int64(mi.Current), Version: -1, LastChange: mi.LastSynced}
	if !mi.Exists {
		info.Rows = -1
	}
	return info, err
}

// Report implements connectors.Reporter: the summaries, their refresh and
// their latest checks.
func (s *Sink) Report(ctx context.Context, w io.Writer, _ []connectors.Table, forAnalysts bool) error {
	infos, err := s.Summaries(ctx)
	if err != nil || len(infos) == 0 {
		return err
	}
	if !forAnalysts {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "SUMMARY\tFROM\tREFRESH\tROWS\tREFRESHED\tCHECKS (latest)")
		for _, in := range infos {
			refreshed := "never"
			if in.Built {
				refreshed = fmt.Sprintf("%s ago", time.Since(in.RefreshedAt).Round(time.Second))
			}
			var checks []string
			for _, c := range in.Checks {
				st := "ok"
				if !c.OK {
					st = "FAILED: " + c.Detail
				}
				checks = append(checks, fmt.Sprintf("%s %s (%s)", c.Check, st, c.At.Format(time.RFC3339)))
			}
			if len(checks) == 0 {
				checks = []string{"none yet"}
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\n", in.Name, in.From, in.Refresh, in.Rows, refreshed, strings.Join(checks, "; "))
		}
		return nil
	}
	fmt.Fprintf(w, "\nSUMMARIES\n")
	for _, in := range infos {
		fmt.Fprintf(w, "\n%s.%s  from %s (via %s.%s_current)\n", s.db, in.Name, in.From, s.db, in.Mirror)
		fmt.Fprintf(w, "  dimensions     %s\n", strings.Join(in.Dimensions, ", "))
		fmt.Fprintf(w, "  measures       %s\n", strings.Join(in.Measures, ", "))
		if in.Where != "" {
			fmt.Fprintf(w, "  where          %s\n", in.Where)
		}
		if in.PartitionBy != "" {
			fmt.Fprintf(w, "  partition by   %s\n", in.PartitionBy)
		}
		fresh := "not built yet"
		if in.Built {
			fresh = fmt.Sprintf("%d rows, refreshed %s", in.Rows, timefmt.Ago(in.RefreshedAt))
		}
		fmt.Fprintf(w, "  refresh        %s; %s\n", in.Refresh, fresh)
		for _, ck := range in.Checks {
			st := "ok"
			if !ck.OK {
				st = "FAILED: " + ck.Detail
			}
			fmt.Fprintf(w, "  check          %s %s (%s)\n", ck.Check, st, timefmt.Ago(ck.At))
		}
	}
	return nil
}
