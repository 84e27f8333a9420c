package statuspage

import (
	"fmt"
	"strings"
	"time"

	"github.com/inlet-dev/inlet/connectors/clickhouse"
	"github.com/inlet-dev/inlet/connectors/postgres"
	"github.com/inlet-dev/inlet/engine"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/internal/lineage"
	"github.com/inlet-dev/inlet/internal/verify"
	"github.com/inlet-dev/inlet/lake"
)

// Thresholds of the health rules.
const (
	// LagThreshold is how far behind a sink may be before its nodes are
	// lagging.
	LagThreshold = 30 * time.Second
	// StartGrace is how long a source may be connecting before it counts
	// as failing.
	StartGrace = 30 * time.Second
)

// observed is one pipeline's input to evaluate.
type observed struct {
	cfg       *config.Config
	state     State
	incidents []Incident // open ones
	det       *details   // nil: not collected yet
	verified  map[string]verify.Latest
}

// evaluate colours every node of g: first each node's own health from
// the pipelines' state, then impact: every node downstream of a failing
// or lagging one, not itself in trouble, is stale with the upstream reason.
func evaluate(g *lineage.Graph, obs []observed, now time.Time) []NodeStatus {
	nodes := make([]NodeStatus, len(g.Nodes))
	idx := map[string]int{}
	for i, n := range g.Nodes {
		nodes[i] = NodeStatus{Node: n, Health: OK}
		idx[n.ID] = i
	}
	set := func(i int, h Health, reason string) {
		n := &nodes[i]
		if severity[h] > severity[n.Health] {
			n.Health = h
		}
		if reason != "" && !contains(n.Reasons, reason) {
			n.Reasons = append(n.Reasons, reason)
		}
	}
	running := map[string]bool{}
	for _, o := range obs {
		running[o.cfg.Pipeline] = o.state.Running
	}
	for _, o := range obs {
		p := o.cfg.Pipeline
		mine := func(kinds ...lineage.Kind) []int {
			var out []int
			for i, n := range nodes {
				if contains(n.Pipelines, p) && containsKind(kinds, n.Kind) {
					out = append(out, i)
				}
			}
			return out
		}
		sinkNodes := map[string][]int{
			lake.SinkName:       mine(lineage.LakeTable),
			clickhouse.SinkName: mine(lineage.CHMirror, lineage.CHView),
		}
		for name, ids := range sinkNodes {
			for _, i := range ids {
				nodes[i].Sink = name
			}
		}
		if !o.state.Running {
			reason := "pipeline " + p + " is not running"
			if o.state.Reason != "" {
				reason += ": " + o.state.Reason
			}
			for _, i := range mine(lineage.PostgresTable, lineage.HTTPStream, lineage.KafkaTopic, lineage.LakeTable,
				lineage.CHMirror, lineage.CHView, lineage.CHSummary) {
				// A node another running pipeline also moves (a shared
				// source table) is not stale for that.
				moved := false
				for _, q := range nodes[i].Pipelines {
					moved = moved || running[q]
				}
				if !moved {
					set(i, Stale, reason)
				}
			}
		}
		// Sources.
		for _, s := range o.cfg.Sources {
			ids := sourceNodes(s, idx)
			for _, st := range o.state.Stages {
				if st.Name != "source "+s.Name || st.Ready {
					continue
				}
				h := Failing
				if (st.Reason == "starting" || st.Reason == "connecting") && now.Sub(st.Since) < StartGrace {
					h = Lagging
				}
				for _, i := range ids {
					set(i, h, fmt.Sprintf("source %s not ready: %s", s.Name, st.Reason))
				}
			}
			for _, ps := range o.state.Sources {
				if ps.Source != s.Name {
					continue
				}
				for _, i := range ids {
					nodes[i].Progress = progressOf(ps, nodes[i].Table)
				}
			}
			for _, hs := range o.state.HTTP {
				if hs.Source != s.Name {
					continue
				}
				if hs.CircuitOpen || hs.Failures > 0 {
					for _, i := range ids {
						set(i, Failing, fmt.Sprintf("source %s: %d failed polls: %s", s.Name, hs.Failures, hs.LastError))
					}
				}
				for _, i := range ids {
					nodes[i].Freshness = hs.LastPoll
				}
			}
			for _, in := range o.incidents {
				if in.Attrs["source"] == s.Name {
					for _, i := range ids {
						set(i, Failing, "source "+s.Name+": "+incidentText(in))
						nodes[i].Incidents = append(nodes[i].Incidents, in)
					}
				}
			}
		}
		// Sinks.
		for _, ss := range o.state.Sinks {
			ids := sinkNodes[ss.Sink]
			ss.LagSeconds = lagSeconds(ss, o.state.Started, now)
			for _, i := range ids {
				n := &nodes[i]
				n.LagRecords, n.LagSeconds, n.LastCommit = ss.LagRecords, ss.LagSeconds, ss.LastCommit
			}
			if h, reason := sinkHealth(ss, o.state.Started, now); h != OK {
				for _, i := range ids {
					set(i, h, reason)
				}
			}
			for _, tc := range ss.Tables {
				counts := tc
				for i, n := range nodes {
					if n.Table != tc.Table || !contains(n.Pipelines, p) {
						continue
					}
					own := n.Sink == ss.Sink
					upstream := n.Kind == lineage.KafkaTopic || n.Kind == lineage.PostgresTable || n.Kind == lineage.HTTPStream
					if !own && !(upstream && nodes[i].Throughput == nil) {
						continue
					}
					sum := tc.LastHour()
					nodes[i].Throughput, nodes[i].LastHour = tc.PerMinute, &sum
					if own {
						nodes[i].Reconcile = &counts
					}
				}
			}
			for _, q := range ss.Quarantined {
				for _, i := range ids {
					if nodes[i].Table == q.Table {
						r := fmt.Sprintf("%s quarantined in %s: %s", q.Table, ss.Sink, q.Error)
						if q.Fix != "" {
							r += " (fix: " + q.Fix + ")"
						}
						set(i, Failing, r)
					}
				}
			}
		}
		for _, in := range o.incidents {
			for i := range nodes {
				if contains(nodes[i].Pipelines, p) && concerns(in, nodes[i]) {
					nodes[i].Incidents = append(nodes[i].Incidents, in)
				}
			}
		}
		applyDetails(nodes, p, o.det, set)
		applyVerify(nodes, p, o.verified, set)
	}
	// Impact.
	roots := make([]Health, len(nodes))
	for i, n := range nodes {
		roots[i] = n.Health
	}
	for i, n := range g.Nodes {
		if roots[i] != Failing && roots[i] != Lagging {
			continue
		}
		cause := nodes[i].Name + " " + string(roots[i])
		if len(nodes[i].Reasons) > 0 {
			cause = nodes[i].Reasons[0]
		}
		for _, d := range g.Downstream(n.ID) {
			j := idx[d]
			if roots[j] == OK || roots[j] == Stale {
				set(j, Stale, "upstream "+cause)
			}
		}
	}
	return nodes
}

// applyDetails adds what the collector found: row counts, versions,
// freshness, summary checks (a failed one makes the summary failing).
func applyDetails(nodes []NodeStatus, p string, d *details, set func(int, Health, string)) {
	if d == nil {
		return
	}
	for i := range nodes {
		n := &nodes[i]
		if !contains(n.Pipelines, p) {
			continue
		}
		switch n.Kind {
		case lineage.LakeTable:
			if t, ok := d.Lake[n.Table]; ok && t.Version >= 0 {
				rows, v, f := t.Rows, t.Version, t.Files
				n.Rows, n.Version, n.Files, n.Freshness = &rows, &v, &f, t.Committed
			}
		case lineage.CHMirror:
			if m, ok := d.Mirrors[n.Table]; ok && m.Exists {
				n.Freshness = m.LastSynced
			}
		case lineage.CHView:
			if m, ok := d.Mirrors[n.Table]; ok && m.Exists {
				rows := int64(m.Current)
				n.Rows, n.Freshness = &rows, m.LastSynced
			}
		case lineage.CHSummary:
			s, ok := d.Summaries[summaryName(n.Name)]
			if !ok {
				continue
			}
			if s.Built {
				rows := int64(s.Rows)
				n.Rows, n.Freshness = &rows, s.RefreshedAt
			}
			n.Checks = n.Checks[:0]
			for _, c := range s.Checks {
				n.Checks = append(n.Checks, Check{Check: c.Check, At: c.At, OK: c.OK, Detail: c.Detail})
				if !c.OK {
					set(i, Failing, fmt.Sprintf("summary check %s failed: %s", c.Check, c.Detail))
				}
			}
		}
	}
}

// applyVerify puts each table's latest inlet verify result on its lake
// table and ClickHouse view; drift in the node's sink makes it failing
// until a later verify passes.
func applyVerify(nodes []NodeStatus, p string, verified map[string]verify.Latest, set func(int, Health, string)) {
	for i := range nodes {
		n := &nodes[i]
		if !contains(n.Pipelines, p) || (n.Kind != lineage.LakeTable && n.Kind != lineage.CHView) {
			continue
		}
		l, ok := verified[n.Table]
		if !ok {
			continue
		}
		n.Verify = &l
		for _, d := range l.Drift {
			if d.Sink == n.Sink {
				set(i, Failing, fmt.Sprintf("inlet verify at %s: %d rows %s in %s (e.g. key %s)", l.At.Format(time.RFC3339), d.Rows, d.Kind, d.Sink, strings.Join(d.Examples, "; ")))
			}
		}
	}
}

// progressOf says how far a table's snapshot or backfill is in this run
// ("" when neither is under way).
func progressOf(ps postgres.Status, table string) string {
	for _, b := range ps.Backfills {
		if b.Table == table {
			return fmt.Sprintf("backfill %s: %d rows in %d chunks", b.ID, b.Rows, b.Chunks)
		}
	}
	for _, p := range ps.Snapshot {
		if p.Table != table {
			continue
		}
		if p.Done {
			return fmt.Sprintf("snapshot done: %d rows", p.Rows)
		}
		if p.Estimated > 0 {
			return fmt.Sprintf("snapshot %d of ~%d rows (%.0f%%)", p.Rows, p.Estimated, 100*min(1, float64(p.Rows)/float64(p.Estimated)))
		}
		return fmt.Sprintf("snapshot %d rows", p.Rows)
	}
	return ""
}

// lagSeconds is how far behind a sink is in time: the engine measures it
// while the sink catches up; a stalled sink is at least as far behind as
// its records have waited.
func lagSeconds(ss engine.SinkStatus, started, now time.Time) float64 {
	if d, ok := Stalled(ss, started, now); ok && d.Seconds() > ss.LagSeconds {
		return d.Seconds()
	}
	return ss.LagSeconds
}

// sinkHealth is a sink's own health: failing when it retries, failed or
// stalled; lagging when it catches up or is far behind.
func sinkHealth(ss engine.SinkStatus, started, now time.Time) (Health, string) {
	if ss.State == "retrying" || ss.State == "failed" {
		return Failing, fmt.Sprintf("%s sink %s: %s", ss.Sink, ss.State, ss.LastError)
	}
	if d, ok := Stalled(ss, started, now); ok {
		return Failing, fmt.Sprintf("%s sink stalled: no commit for %s while %d records wait", ss.Sink, d.Round(time.Second), ss.LagRecords)
	}
	if ss.State == "catching_up" || ss.LagSeconds > LagThreshold.Seconds() {
		return Lagging, fmt.Sprintf("%s sink %s: %d records, %.0fs behind", ss.Sink, strings.ReplaceAll(ss.State, "_", " "), ss.LagRecords, ss.LagSeconds)
	}
	return OK, ""
}

// sourceNodes are the lineage nodes a configured source reads, by the ids
// lineage gives them.
func sourceNodes(s config.Source, idx map[string]int) []int {
	var out []int
	switch {
	case s.Postgres != nil:
		db, err := lineage.PostgresID(s.Postgres.DSN)
		if err != nil {
			return nil
		}
		for _, t := range s.Postgres.Tables {
			if i, ok := idx["pg:"+db+"/"+t.TableName().String()]; ok {
				out = append(out, i)
			}
		}
	case s.HTTP != nil:
		if i, ok := idx[lineage.HTTPID(s.HTTP.URL)]; ok {
			out = append(out, i)
		}
	}
	return out
}

// concerns reports whether an incident is about node n.
func concerns(in Incident, n NodeStatus) bool {
	a := in.Attrs
	if t, ok := a["table"]; ok && fmt.Sprint(t) != n.Table {
		return false
	}
	if s, ok := a["sink"]; ok {
		return fmt.Sprint(s) == n.Sink
	}
	if s, ok := a["summary"]; ok {
		return n.Kind == lineage.CHSummary && summaryName(n.Name) == fmt.Sprint(s)
	}
	return false // source incidents: attached by evaluate, which knows each source's nodes
}

func incidentText(in Incident) string {
	s := strings.TrimPrefix(in.Msg, "incident: ")
	if in.Error != "" {
		s += ": " + in.Error
	}
	return s
}

// summaryName is a summary node's table name without its database.
func summaryName(name string) string {
	if _, t, ok := strings.Cut(name, "."); ok {
		return t
	}
	return name
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsKind(list []lineage.Kind, k lineage.Kind) bool {
	for _, x := range list {
		if x == k {
			return true
		}
	}
	return false
}
