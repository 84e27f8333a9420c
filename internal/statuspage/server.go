package statuspage

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/internal/incident"
	"github.com/inlet-dev/inlet/internal/lineage"
	"github.com/inlet-dev/inlet/internal/verify"
)

//go:embed assets
var assets embed.FS

// Server serves the status page and its JSON API for one or more
// pipelines. It is an http.Handler for "/" beside /metrics and /readyz.
type Server struct {
	pipes []*pipe
	graph *lineage.Graph
	pos   map[string][2]int
	mux   *http.ServeMux
	log   *slog.Logger
}

type pipe struct {
	Pipeline
	col     *collector
	journal journalCache

	storeMu sync.Mutex
	store   checkpoint.Store
}

// New builds the graph of the pipelines and starts collecting their
// details in the background until ctx ends.
func New(ctx context.Context, pipes []Pipeline, log *slog.Logger) (*Server, error) {
	cfgs := make([]*config.Config, len(pipes))
	for i, p := range pipes {
		cfgs[i] = p.Config
	}
	g, err := lineage.Build(cfgs...)
	if err != nil {
		return nil, fmt.Errorf("status page: %w", err)
	}
	s := &Server{graph: g, pos: layout(g), mux: http.NewServeMux(), log: log}
	for _, p := range pipes {
		pp := &pipe{Pipeline: p, col: &collector{cfg: p.Config, tables: tableNames(p.Config)}}
		s.pipes = append(s.pipes, pp)
		go pp.col.run(ctx)
	}
	go func() {
		<-ctx.Done()
		for _, p := range s.pipes {
			p.storeMu.Lock()
			if p.store != nil {
				p.store.Close()
				p.store = nil
			}
			p.storeMu.Unlock()
		}
	}()
	static, _ := fs.Sub(assets, "assets")
	page := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, static, "index.html")
	}
	s.mux.HandleFunc("GET /{$}", page)
	s.mux.HandleFunc("GET /table", page)
	s.mux.HandleFunc("GET /incidents", page)
	s.mux.HandleFunc("GET /checkpoints", page)
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /api/status", s.jsonHandler(func(r *http.Request) (any, error) { return s.Status(), nil }))
	s.mux.HandleFunc("GET /api/table", s.jsonHandler(s.table))
	s.mux.HandleFunc("GET /api/incidents", s.jsonHandler(func(r *http.Request) (any, error) { return s.incidents(), nil }))
	s.mux.HandleFunc("GET /api/checkpoints", s.jsonHandler(s.checkpoints))
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) jsonHandler(fn func(*http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(r)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			v = map[string]string{"error": err.Error()}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		enc.Encode(v)
	}
}

// observe takes every pipeline's state, open incidents and details.
func (s *Server) observe() ([]observed, map[string][]Incident) {
	obs := make([]observed, len(s.pipes))
	all := map[string][]Incident{}
	for i, p := range s.pipes {
		st := p.State()
		det := p.col.get()
		eps := p.episodes(st.Started)
		resolveChecked(eps, det)
		all[p.Config.Pipeline] = eps
		var open []Incident
		for _, in := range eps {
			if in.Open {
				open = append(open, in)
			}
		}
		verified, _ := verify.ReadLatest(p.Config.StateDir) // unreadable: shown as not verified
		obs[i] = observed{cfg: p.Config, state: st, incidents: open, det: det, verified: verified}
	}
	return obs, all
}

func (p *pipe) episodes(started time.Time) []Incident {
	entries, err := p.journal.read(incident.Path(p.Config.StateDir))
	if err != nil {
		return []Incident{{Pipeline: p.Config.Pipeline, Subject: "journal", Msg: "incident journal unreadable", Error: err.Error(), Open: true, Level: "ERROR"}}
	}
	return episodes(p.Config.Pipeline, entries, started)
}

// Status is what /api/status returns: every node with its health.
func (s *Server) Status() Status {
	now := time.Now().UTC()
	obs, _ := s.observe()
	nodes := evaluate(s.graph, obs, now)
	st := Status{Now: now, Nodes: nodes, Edges: s.graph.Edges, Counts: map[Health]int{}}
	for i := range nodes {
		p := s.pos[nodes[i].ID]
		nodes[i].Col, nodes[i].Row = p[0], p[1]
		st.Counts[nodes[i].Health]++
	}
	for _, o := range obs {
		ps := PipelineStatus{Name: o.cfg.Pipeline, File: o.cfg.File(), Running: o.state.Running,
			Reason: o.state.Reason, Updated: o.state.Updated, Started: o.state.Started, Sinks: []SinkView{},
			Stages: o.state.Stages, Open: len(o.incidents)}
		if after := time.Duration(o.cfg.Incidents.EscalateAfter); after > 0 {
			ps.EscalateAfter = after.String()
			for _, in := range o.incidents {
				if now.Sub(in.Start) > after {
					ps.Escalated = append(ps.Escalated, in)
				}
			}
		}
		for _, ss := range o.state.Sinks {
			h, reason := sinkHealth(ss, o.state.Started, now)
			ss.LagSeconds = lagSeconds(ss, o.state.Started, now)
			if h == OK && len(ss.Quarantined) > 0 {
				h, reason = Failing, fmt.Sprintf("%d table(s) quarantined", len(ss.Quarantined))
			}
			ps.Sinks = append(ps.Sinks, SinkView{SinkStatus: ss, Health: h, Reason: reason})
		}
		st.Pipelines = append(st.Pipelines, ps)
	}
	if st.Edges == nil {
		st.Edges = []lineage.Edge{}
	}
	return st
}

// TablePage is /api/table: one source table in one pipeline.
type TablePage struct {
	Pipeline  string       `json:"pipeline"`
	Table     string       `json:"table"`
	Nodes     []NodeStatus `json:"nodes"` // the table's nodes, then summaries built on it
	Columns   []Column     `json:"columns"`
	Lake      *LakeInfo    `json:"lake,omitempty"`
	Mirror    *MirrorInfo  `json:"clickhouse,omitempty"`
	Incidents []Incident   `json:"incidents"`
}

// Column is one column of the table's schema, as the lake records it.
type Column struct {
	Name       string `json:"name"`
	Type       string `json:"type"`        // Inlet's kind
	SourceType string `json:"source_type"` // as the source names it
	Key        bool   `json:"key,omitempty"`
}

// LakeInfo is the lake table.
type LakeInfo struct {
	Where     string    `json:"where"`
	Version   int64     `json:"version"`
	Rows      int64     `json:"rows"`
	Files     int       `json:"files"`
	Committed time.Time `json:"committed,omitzero"`
}

// MirrorInfo is the ClickHouse mirror, as last read.
type MirrorInfo struct {
	Table      string    `json:"table"`
	View       string    `json:"view"`
	Rows       uint64    `json:"rows"`
	LastSynced time.Time `json:"last_synced,omitzero"`
	Exists     bool      `json:"exists"`
	AsOf       time.Time `json:"as_of,omitzero"` // when ClickHouse last answered
	Error      string    `json:"error,omitempty"`
}

func (s *Server) table(r *http.Request) (any, error) {
	pname, table := r.URL.Query().Get("pipeline"), r.URL.Query().Get("table")
	var p *pipe
	for _, x := range s.pipes {
		if x.Config.Pipeline == pname || (pname == "" && len(s.pipes) == 1) {
			p = x
		}
	}
	if p == nil {
		return nil, fmt.Errorf("no pipeline %q", pname)
	}
	if !contains(tableNames(p.Config), table) {
		return nil, fmt.Errorf("pipeline %s has no table %q", p.Config.Pipeline, table)
	}
	st := s.Status()
	out := TablePage{Pipeline: p.Config.Pipeline, Table: table, Columns: []Column{}, Incidents: []Incident{}}
	mine := map[string]bool{}
	for _, n := range st.Nodes {
		if n.Table == table && contains(n.Pipelines, p.Config.Pipeline) {
			mine[n.ID] = true
			for _, d := range s.graph.Downstream(n.ID) {
				mine[d] = true
			}
		}
	}
	for _, n := range st.Nodes {
		if mine[n.ID] {
			out.Nodes = append(out.Nodes, n)
		}
	}
	if d := p.col.get(); d != nil {
		if l, ok := d.Lake[table]; ok && l.Version >= 0 {
			out.Lake = &LakeInfo{Where: l.Where, Version: l.Version, Rows: l.Rows, Files: l.Files, Committed: l.Committed}
			for _, c := range l.Schema.Columns {
				out.Columns = append(out.Columns, Column{Name: c.Name, Type: string(c.Kind), SourceType: c.SourceType, Key: c.Key})
			}
		}
		if m, ok := d.Mirrors[table]; ok {
			out.Mirror = &MirrorInfo{Table: m.Table, View: m.View, Rows: m.Current, LastSynced: m.LastSynced, Exists: m.Exists, AsOf: d.CHAt, Error: d.CHErr}
		}
	}
	for _, in := range p.episodes(p.State().Started) {
		if t, ok := in.Attrs["table"]; ok && fmt.Sprint(t) == table {
			out.Incidents = append(out.Incidents, in)
		}
	}
	return out, nil
}

// incidents is /api/incidents: every pipeline's episodes, newest first.
func (s *Server) incidents() []Incident {
	_, all := s.observe()
	out := []Incident{}
	for _, eps := range all {
		out = append(out, eps...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	if len(out) > 500 {
		out = out[:500]
	}
	return out
}

// SinkCheckpoints is one sink's checkpoint history on /api/checkpoints.
type SinkCheckpoints struct {
	Pipeline string             `json:"pipeline"`
	Sink     string             `json:"sink"`
	Total    int                `json:"total"`
	Latest   *checkpoint.Batch  `json:"latest,omitempty"`
	History  []checkpoint.Batch `json:"history"` // newest first, at most 50
	Error    string             `json:"error,omitempty"`
}

func (s *Server) checkpoints(r *http.Request) (any, error) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	out := []SinkCheckpoints{}
	for _, p := range s.pipes {
		for _, sink := range sinkNames(p.Config) {
			sc := SinkCheckpoints{Pipeline: p.Config.Pipeline, Sink: sink, History: []checkpoint.Batch{}}
			hist, err := p.history(ctx, sink)
			if err != nil {
				sc.Error = err.Error()
			}
			sc.Total = len(hist)
			for i := len(hist) - 1; i >= 0 && len(sc.History) < 50; i-- {
				sc.History = append(sc.History, hist[i])
			}
			if len(hist) > 0 {
				sc.Latest = &hist[len(hist)-1]
			}
			out = append(out, sc)
		}
	}
	return out, nil
}

func (p *pipe) history(ctx context.Context, sink string) ([]checkpoint.Batch, error) {
	p.storeMu.Lock()
	defer p.storeMu.Unlock()
	if p.OpenStore == nil {
		return nil, errors.New("no checkpoint store")
	}
	if p.store == nil {
		st, err := p.OpenStore(ctx)
		if err != nil {
			return nil, err
		}
		p.store = st
	}
	return p.store.History(ctx, sink)
}
