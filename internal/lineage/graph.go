// Package lineage builds the data-flow graph of one or more pipelines:
// sources (Postgres tables, HTTP streams) → Kafka topics → lake tables and
// ClickHouse mirrors → `_current` views → summaries.
//
// Nodes have stable ids that name the physical thing, not the pipeline
// that touches it, so the graphs of several pipelines join where they
// share something: a Postgres table read by two pipelines is one node
// (identified by host, port, database and table, never by user or
// password), and so is a ClickHouse table two pipelines write.
//
// The graph is a value: `inlet lineage` prints it, and a status page can
// colour its nodes by health and mark Downstream(failed) as stale.
package lineage

import (
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/connectors/conf"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/lake"
)

// Kind is what a node is.
type Kind string

// Node kinds, in data-flow order.
const (
	PostgresTable Kind = "postgres_table"
	HTTPStream    Kind = "http_stream"
	KafkaTopic    Kind = "kafka_topic"
	LakeTable     Kind = "lake_table"
	CHMirror      Kind = "clickhouse_mirror"
	CHView        Kind = "clickhouse_view"
	CHSummary     Kind = "clickhouse_summary"
)

// rank orders kinds for stable output (sources first).
var rank = map[Kind]int{PostgresTable: 0, HTTPStream: 0, KafkaTopic: 1, LakeTable: 2, CHMirror: 2, CHView: 3, CHSummary: 4}

// Node is one dataset.
type Node struct {
	// ID is stable and unique across pipelines, e.g.
	// "pg:db.example.com:5432/shop/public.orders".
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`
	// Name is the short name people use: "public.orders", "shop.orders_current".
	Name string `json:"name"`
	// Pipelines that read or write it, sorted.
	Pipelines []string `json:"pipelines"`
	// Table is the source table (schema.table, or the HTTP stream's
	// source name) the node carries; "" for a summary over several.
	Table string `json:"table,omitempty"`
}

// Edge is a flow of data From → To.
type Edge struct {
	From      string   `json:"from"`
	To        string   `json:"to"`
	Pipelines []string `json:"pipelines"`
}

// Graph is the joined lineage of one or more pipelines.
type Graph struct {
	Nodes []Node `json:"nodes"` // sorted by kind rank, then ID
	Edges []Edge `json:"edges"` // sorted by From, To

	byID map[string]int
	out  map[string][]string
}

// builder accumulates nodes and edges, joining duplicates.
type builder struct {
	nodes map[string]*Node
	edges map[[2]string]*Edge
}

func addPipeline(list []string, p string) []string {
	for _, x := range list {
		if x == p {
			return list
		}
	}
	list = append(list, p)
	sort.Strings(list)
	return list
}

func (b *builder) node(id string, k Kind, name, table, pipeline string) string {
	n, ok := b.nodes[id]
	if !ok {
		n = &Node{ID: id, Kind: k, Name: name, Table: table}
		b.nodes[id] = n
	}
	n.Pipelines = addPipeline(n.Pipelines, pipeline)
	return id
}

func (b *builder) edge(from, to, pipeline string) {
	k := [2]string{from, to}
	e, ok := b.edges[k]
	if !ok {
		e = &Edge{From: from, To: to}
		b.edges[k] = e
	}
	e.Pipelines = addPipeline(e.Pipelines, pipeline)
}

// Build returns the lineage of the given pipelines (validated configs).
func Build(cfgs ...*config.Config) (*Graph, error) {
	b := &builder{nodes: map[string]*Node{}, edges: map[[2]string]*Edge{}}
	for _, c := range cfgs {
		if err := b.add(c); err != nil {
			return nil, fmt.Errorf("%s: %w", c.File(), err)
		}
	}
	g := &Graph{}
	for _, n := range b.nodes {
		g.Nodes = append(g.Nodes, *n)
	}
	sort.Slice(g.Nodes, func(i, j int) bool {
		a, c := g.Nodes[i], g.Nodes[j]
		if rank[a.Kind] != rank[c.Kind] {
			return rank[a.Kind] < rank[c.Kind]
		}
		return a.ID < c.ID
	})
	for _, e := range b.edges {
		g.Edges = append(g.Edges, *e)
	}
	sort.Slice(g.Edges, func(i, j int) bool {
		if g.Edges[i].From != g.Edges[j].From {
			return g.Edges[i].From < g.Edges[j].From
		}
		return g.Edges[i].To < g.Edges[j].To
	})
	g.index()
	return g, nil
}

func (g *Graph) index() {
	g.byID = map[string]int{}
	g.out = map[string][]string{}
	for i, n := range g.Nodes {
		g.byID[n.ID] = i
	}
	for _, e := range g.Edges {
		g.out[e.From] = append(g.out[e.From], e.To)
	}
}

// Node returns the node with id.
func (g *Graph) Node(id string) (Node, bool) {
	i, ok := g.byID[id]
	if !ok {
		return Node{}, false
	}
	return g.Nodes[i], true
}

// Downstream returns the ids of every node that depends on id, directly or
// not, in graph order (kind rank, then id); id itself is not included.
func (g *Graph) Downstream(id string) []string {
	seen := map[string]bool{id: true}
	queue := []string{id}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, m := range g.out[n] {
			if !seen[m] {
				seen[m] = true
				queue = append(queue, m)
			}
		}
	}
	var out []string
	for _, n := range g.Nodes {
		if n.ID != id && seen[n.ID] {
			out = append(out, n.ID)
		}
	}
	return out
}

// Resolve finds the nodes a user means by ref: the node with that id, or
// else every source node whose name is ref (public.orders, orders for
// public.orders, or an HTTP source's name), or else every node whose name
// is ref (shop.orders_current).
func (g *Graph) Resolve(ref string) []string {
	if _, ok := g.byID[ref]; ok {
		return []string{ref}
	}
	want := ref
	if tn, err := conf.ParseTableName(ref); err == nil {
		want = tn.String()
	}
	var sources, named []string
	for _, n := range g.Nodes {
		isSource := n.Kind == PostgresTable || n.Kind == HTTPStream
		if isSource && (n.Name == want || n.Name == ref) {
			sources = append(sources, n.ID)
		}
		if n.Name == ref {
			named = append(named, n.ID)
		}
	}
	if len(sources) > 0 {
		return sources
	}
	return named
}

// add adds one pipeline's nodes and edges.
func (b *builder) add(c *config.Config) error {
	p := c.Pipeline
	cluster := "embedded@" + p
	if c.Kafka != nil {
		br := append([]string(nil), c.Kafka.Brokers...)
		sort.Strings(br)
		cluster = strings.Join(br, ",")
	}
	lakeRoot := ""
	if c.Lake != nil && lake.IsS3(c.Lake.Path) {
		lakeRoot = strings.TrimRight(c.Lake.Path, "/")
	} else if c.Lake != nil {
		dir, err := c.Lake.Dir()
		if err != nil {
			return err
		}
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		lakeRoot = dir
	}
	chPrefix := ""
	if ch := c.ClickHouse; ch != nil {
		chPrefix = "ch:" + ch.Addr + "/" + ch.Database + "."
	}
	views := map[string]string{} // source table → view node id
	flow := func(srcID, table, topic string) {
		t := b.node("kafka:"+cluster+"/"+topic, KafkaTopic, topic, table, p)
		b.edge(srcID, t, p)
		if lakeRoot != "" {
			l := b.node("lake:"+lakeRoot+"/"+table, LakeTable, table, table, p)
			b.edge(t, l, p)
		}
		if chPrefix != "" {
			m := mirrorName(table)
			mid := b.node(chPrefix+m, CHMirror, c.ClickHouse.Database+"."+m, table, p)
			vid := b.node(chPrefix+m+"_current", CHView, c.ClickHouse.Database+"."+m+"_current", table, p)
			b.edge(t, mid, p)
			b.edge(mid, vid, p)
			views[table] = vid
		}
	}
	for _, s := range c.Sources {
		switch {
		case s.Postgres != nil:
			db, err := PostgresID(s.Postgres.DSN)
			if err != nil {
				return fmt.Errorf("source %s: %w", s.Name, err)
			}
			for _, t := range s.Postgres.Tables {
				tn := t.TableName()
				id := b.node("pg:"+db+"/"+tn.String(), PostgresTable, tn.String(), tn.String(), p)
				flow(id, tn.String(), change.TopicName(p, tn.Schema, tn.Table))
			}
		case s.HTTP != nil:
			id := b.node(HTTPID(s.HTTP.URL), HTTPStream, s.Name, s.Name, p)
			flow(id, s.Name, p+"."+s.Name)
		}
	}
	if ch := c.ClickHouse; ch != nil {
		for _, s := range ch.Summaries {
			tn, err := conf.ParseTableName(s.From)
			if err != nil {
				continue
			}
			from, ok := views[tn.String()]
			if !ok {
				continue
			}
			id := b.node(chPrefix+s.Name, CHSummary, ch.Database+"."+s.Name, "", p)
			b.edge(from, id, p)
		}
	}
	return nil
}

// mirrorName is the ClickHouse mirror of a source table (as the sink
// names it): the table in public, schema_table elsewhere.
func mirrorName(table string) string {
	schema, tbl, ok := strings.Cut(table, ".")
	if !ok || schema == "public" {
		if !ok {
			return table
		}
		return tbl
	}
	return schema + "_" + tbl
}

// PostgresID is "host:port/dbname" of a DSN: what identifies the database,
// without user, password or options.
func PostgresID(dsn string) (string, error) {
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "", fmt.Errorf("postgres dsn: not a valid connection string")
	}
	host := pc.Host
	if strings.HasPrefix(host, "/") {
		host = "unix:" + host
	}
	if host == "localhost" || host == "::1" {
		host = "127.0.0.1"
	}
	return fmt.Sprintf("%s:%d/%s", host, pc.Port, pc.Database), nil
}

// HTTPID is the id of an HTTP stream: its URL without scheme, credentials,
// query or fragment.
func HTTPID(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "http:" + raw
	}
	return "http:" + u.Host + u.Path
}

// Sub returns the part of g made of ids and everything downstream of them,
// with the edges between those nodes.
func (g *Graph) Sub(ids []string) *Graph {
	keep := map[string]bool{}
	for _, id := range ids {
		keep[id] = true
		for _, d := range g.Downstream(id) {
			keep[d] = true
		}
	}
	s := &Graph{}
	for _, n := range g.Nodes {
		if keep[n.ID] {
			s.Nodes = append(s.Nodes, n)
		}
	}
	for _, e := range g.Edges {
		if keep[e.From] && keep[e.To] {
			s.Edges = append(s.Edges, e)
		}
	}
	s.index()
	return s
}
