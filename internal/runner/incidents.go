package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/internal/incident"
)

// Incidents prints the pipeline's incident record since from (zero: all),
// oldest first, as a table or as the journal's JSON lines.
func Incidents(c *config.Config, from time.Time, asJSON bool, out io.Writer) error {
	path := incident.Path(c.StateDir)
	entries, err := incident.Read(path, from)
	if err != nil {
		return fmt.Errorf("incident record: %w", err)
	}
	if asJSON {
		enc := json.NewEncoder(out)
		for _, e := range entries {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	if len(entries) == 0 {
		fmt.Fprintf(out, "no incidents recorded (%s)\n", path)
		return nil
	}
	ids := incidentIDs(path)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintln(tw, "TIME\tLEVEL\tID\tINCIDENT\tDETAILS")
	for _, e := range entries {
		id := e.ID
		if id == "" {
			id = ids[e.Time.UnixNano()]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), e.Level, id, strings.TrimPrefix(e.Msg, "incident: "), details(e.Attrs))
	}
	return nil
}

// details renders attrs as sorted key=value pairs.
func details(attrs map[string]any) string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := fmt.Sprint(attrs[k])
		if strings.ContainsAny(v, " \t") {
			v = fmt.Sprintf("%q", v)
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " ")
}

// printIncidents prints how many incidents the last day holds and the
// latest one, for inlet status.
func printIncidents(tw io.Writer, c *config.Config) error {
	entries, err := incident.Read(incident.Path(c.StateDir), time.Now().Add(-24*time.Hour))
	if err != nil {
		return fmt.Errorf("incident record: %w", err)
	}
	fmt.Fprintln(tw)
	if len(entries) == 0 {
		fmt.Fprintln(tw, "INCIDENTS (24h)\tnone")
		return nil
	}
	last := entries[len(entries)-1]
	fmt.Fprintf(tw, "INCIDENTS (24h)\t%d; latest %s: %s (inlet incidents -c %s)\n", len(entries), last.Time.Format(time.RFC3339), last.Msg, c.File())
	return nil
}

// incidentIDs maps each journal entry (by time) to its incident's id, for
// entries written before ids were (journal format 1).
func incidentIDs(path string) map[int64]string {
	all, _ := incident.Read(path, time.Time{})
	out := map[int64]string{}
	for _, in := range incident.Group(all) {
		for _, e := range in.Entries {
			out[e.Time.UnixNano()] = in.ID
		}
	}
	return out
}
