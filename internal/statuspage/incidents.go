package statuspage

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/inlet-dev/inlet/internal/incident"
)

// Incident is one episode of the journal: the entries about one subject
// (a sink, a sink's table, a source, a summary) from the first failure to
// the "incident resolved" entry that ends it, or to now while it is open.
type Incident struct {
	Pipeline string         `json:"pipeline"`
	Subject  string         `json:"subject"` // e.g. "sink=clickhouse table=public.docs"
	Msg      string         `json:"msg"`     // the latest entry's message
	Level    string         `json:"level"`
	Error    string         `json:"error,omitempty"`
	Start    time.Time      `json:"start"`
	Last     time.Time      `json:"last"`
	Count    int            `json:"count"` // journal entries in the episode
	Attrs    map[string]any `json:"attrs,omitempty"`
	Open     bool           `json:"open"`
	// Resolved is when the episode ended and Resolution how.
	Resolved   time.Time `json:"resolved,omitzero"`
	Resolution string    `json:"resolution,omitempty"`
}

// subjectKeys are the attrs that name what an incident is about, in the
// order the subject lists them.
var subjectKeys = []string{"source", "sink", "table", "summary", "backfill"}

func subjectOf(attrs map[string]any) string {
	var parts []string
	for _, k := range subjectKeys {
		if v, ok := attrs[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	if len(parts) == 0 {
		return "engine"
	}
	return strings.Join(parts, " ")
}

// episodes groups journal entries (oldest first) into incidents, newest
// first. An ERROR entry opens an episode for its subject (or joins the
// open one); an "incident resolved" entry closes it; a WARN entry is an
// episode of its own, recorded and closed. Episodes still open from
// before started (a previous run) are closed: that run ended.
func episodes(pipeline string, entries []incident.Entry, started time.Time) []Incident {
	var out []*Incident
	open := map[string]*Incident{}
	for _, e := range entries {
		subj := subjectOf(e.Attrs)
		if strings.HasPrefix(e.Msg, "incident resolved") {
			if in, ok := open[subj]; ok {
				in.Open, in.Resolved, in.Resolution = false, e.Time, e.Msg
				delete(open, subj)
			}
			continue
		}
		errText := ""
		if v, ok := e.Attrs["err"]; ok {
			errText = fmt.Sprint(v)
		}
		if e.Level != "ERROR" {
			out = append(out, &Incident{Pipeline: pipeline, Subject: subj, Msg: e.Msg, Level: e.Level, Error: errText,
				Start: e.Time, Last: e.Time, Count: 1, Attrs: e.Attrs, Resolution: "recorded"})
			continue
		}
		in, ok := open[subj]
		if !ok {
			in = &Incident{Pipeline: pipeline, Subject: subj, Start: e.Time, Open: true}
			open[subj] = in
			out = append(out, in)
		}
		in.Msg, in.Level, in.Error, in.Last, in.Attrs = e.Msg, e.Level, errText, e.Time, e.Attrs
		in.Count++
	}
	res := make([]Incident, 0, len(out))
	for i := len(out) - 1; i >= 0; i-- {
		in := *out[i]
		if in.Open && !started.IsZero() && in.Last.Before(started) {
			in.Open, in.Resolution = false, "not resolved before the process stopped; the current run started after it"
		}
		res = append(res, in)
	}
	sort.SliceStable(res, func(i, j int) bool { return res[i].Start.After(res[j].Start) })
	return res
}

// journalCache rereads a journal only when it changed.
type journalCache struct {
	mu      sync.Mutex
	size    int64
	mod     time.Time
	entries []incident.Entry
	err     error
}

func (c *journalCache) read(path string) ([]incident.Entry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if fi.Size() == c.size && fi.ModTime().Equal(c.mod) && c.entries != nil {
		return c.entries, c.err
	}
	c.entries, c.err = incident.Read(path, time.Time{})
	c.size, c.mod = fi.Size(), fi.ModTime()
	return c.entries, c.err
}

// resolveChecked closes the open summary-check episodes whose summary has
// passed every check since: the journal has no "resolved" line for them.
func resolveChecked(eps []Incident, d *details) {
	if d == nil {
		return
	}
	for i := range eps {
		in := &eps[i]
		name, ok := in.Attrs["summary"]
		if !in.Open || !ok {
			continue
		}
		sm, ok := d.Summaries[fmt.Sprint(name)]
		if !ok || len(sm.Checks) == 0 {
			continue
		}
		passed := true
		var at time.Time
		for _, c := range sm.Checks {
			passed = passed && c.OK && c.At.After(in.Last)
			if c.At.After(at) {
				at = c.At
			}
		}
		if passed {
			in.Open, in.Resolved, in.Resolution = false, at, "every check of the summary passed since"
		}
	}
}
