package incident

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// positionKeys are attrs that say where in a stream something happened.
var positionKeys = []string{"first_offset", "offset", "partition", "topic", "lsn", "commit_lsn", "cursor", "batch", "checkpoint"}

// rowKeys are attrs that count rows or records.
var rowKeys = []string{"records", "rows", "partitions", "failures"}

// tableKeys are attrs that name tables, topics and summaries.
var tableKeys = []string{"table", "topic", "summary", "sink", "source", "backfill"}

// whatInletDid says, per stage, how Inlet contains such a failure.
var whatInletDid = map[string]string{
	"batch": "The engine kept the batch uncommitted and retried it with exponential backoff (500ms doubling, at most 30s). " +
		"No sink checkpoint moved past it, so no change was lost or applied twice: each sink resumes from its own committed offsets.",
	"http poll": "The source kept its cursor where it was and polled again at the next interval, with backoff; " +
		"records are fetched again from the last committed cursor, so none is skipped.",
	"backfill chunk": "The backfill retried the chunk with backoff while streaming went on; the chunk's rows are " +
		"published once it succeeds.",
	"summary refresh": "The summary's partitions were left as they were and are recomputed with the next batch; " +
		"the mirror tables stayed current.",
	"summary check": "The failed check is recorded in the _inlet_checks table; on_check_failure decided whether the engine " +
		"went on (warn) or stopped (stop).",
	"skipped records": "The sink skipped the records by their source order: it already held those changes, so each change " +
		"is applied once.",
}

// Report writes a post-mortem of in, in Markdown, as of now.
func Report(w io.Writer, in *Incident, pipeline string, now time.Time) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	status := "resolved"
	switch {
	case in.Contained:
		status = "contained (an event Inlet dealt with at once)"
	case in.Open():
		status = "**open**"
	}
	p("# Incident %s: %s\n\n", in.ID, in.Title)
	p("| | |\n|---|---|\n")
	p("| Pipeline | %s |\n", pipeline)
	p("| Status | %s |\n", status)
	p("| Severity | %s |\n", in.Level)
	p("| Stage | %s |\n", in.Stage)
	p("| Opened | %s |\n", in.Opened.UTC().Format(time.RFC3339))
	if !in.Open() {
		p("| Closed | %s |\n", in.Closed.UTC().Format(time.RFC3339))
		p("| Time to resolve | %s |\n", in.Duration(now).Round(time.Second))
	} else {
		p("| Open for | %s (as of %s) |\n", in.Duration(now).Round(time.Second), now.UTC().Format(time.RFC3339))
	}
	p("\n## What happened\n\n")
	failures := 0
	errs := map[string]int{}
	var errOrder []string
	for _, e := range in.Entries {
		if isResolution(e) || strings.HasPrefix(e.Msg, "incident escalated") {
			continue
		}
		failures++
		for _, k := range []string{"err", "batch.err", "failures"} {
			if v, ok := e.Attrs[k]; ok {
				s := fmt.Sprint(v)
				if errs[s] == 0 {
					errOrder = append(errOrder, s)
				}
				errs[s]++
			}
		}
	}
	p("%s", sentence(in.Title))
	if failures > 1 {
		p(" It failed %d times before it closed.", failures)
	}
	p("\n")
	if len(errOrder) > 0 {
		p("\nErrors (first seen first):\n\n")
		for _, s := range errOrder {
			p("- `%s` (%d×)\n", strings.ReplaceAll(s, "`", "'"), errs[s])
		}
	}
	p("\n## Timeline\n\n| time (UTC) | level | event | details |\n|---|---|---|---|\n")
	for _, e := range in.Entries {
		p("| %s | %s | %s | %s |\n", e.Time.UTC().Format("2006-01-02 15:04:05.000"), e.Level, mdCell(strings.TrimPrefix(e.Msg, "incident: ")), mdCell(attrs(e.Attrs, nil)))
	}
	p("\n## Positions\n\n")
	if pos := collect(in.Entries, positionKeys); len(pos) > 0 {
		for _, l := range pos {
			p("- %s\n", l)
		}
	} else {
		p("The journal records no stream position for this incident.\n")
	}
	p("\n## Rows and tables affected\n\n")
	rows := collect(in.Entries, rowKeys)
	tables := collect(in.Entries, tableKeys)
	if len(rows)+len(tables) == 0 {
		p("The journal names no table and counts no rows for this incident.\n")
	}
	for _, l := range append(tables, rows...) {
		p("- %s\n", l)
	}
	p("\n## What Inlet did\n\n")
	if s, ok := whatInletDid[in.Stage]; ok {
		p("%s\n", s)
	} else {
		p("Inlet recorded the incident and went on with everything it did not block.\n")
	}
	switch n := retries(in.Entries); {
	case n == 1:
		p("\nIt retried once.\n")
	case n > 1:
		p("\nIt retried %d times.\n", n)
	}
	p("\n## Resolution\n\n")
	switch {
	case in.Resolution != nil:
		p("%s at %s", strings.TrimSuffix(sentence(strings.TrimSpace(strings.TrimPrefix(in.Resolution.Msg, "incident resolved:"))), "."), in.Resolution.Time.UTC().Format(time.RFC3339))
		if d := attrs(in.Resolution.Attrs, []string{"incident_id"}); d != "" {
			p(" (%s)", d)
		}
		p(".\n")
	case in.Contained:
		p("Nothing to resolve: Inlet contained it when it happened.\n")
	default:
		p("Not resolved yet. If the stage stopped, fix the cause the errors above name and restart it; "+
			"record the outcome with `inlet incidents resolve %s -c FILE --note \"…\"`.\n", in.ID)
	}
	p("\n## Time to resolve\n\n")
	if in.Open() {
		p("Open for %s so far.\n", in.Duration(now).Round(time.Second))
	} else {
		p("%s.\n", in.Duration(now).Round(time.Second))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

func mdCell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

// attrs renders attrs as sorted key=value pairs, without skip.
func attrs(m map[string]any, skip []string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !contains(skip, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// collect lists, per key (matched on the attr name's last dotted part),
// the distinct values the entries carry, as "key: v1, v2".
func collect(entries []Entry, keys []string) []string {
	vals := map[string][]string{}
	for _, e := range entries {
		for k, v := range e.Attrs {
			base := k[strings.LastIndex(k, ".")+1:]
			if !contains(keys, base) {
				continue
			}
			s := fmt.Sprint(v)
			if !contains(vals[base], s) {
				vals[base] = append(vals[base], s)
			}
		}
	}
	var out []string
	for _, k := range keys {
		if len(vals[k]) > 0 {
			out = append(out, fmt.Sprintf("%s: %s", k, strings.Join(vals[k], ", ")))
		}
	}
	return out
}

// retries counts the failed attempts that were retried.
func retries(entries []Entry) int {
	n := 0
	for _, e := range entries {
		if strings.Contains(e.Msg, "retrying") || strings.Contains(e.Msg, "did not advance") {
			n++
		}
	}
	return n
}
