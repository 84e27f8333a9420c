package incident

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"
)

// Incident is one incident: the journal entries from the first failure to
// its resolution (or until now, when it is still open).
type Incident struct {
	// ID is stable: written in every entry since journal format 2, and
	// derived from the first entry (its time and message) for older
	// entries, so it never changes as the journal grows.
	ID      string
	Title   string // the first entry's message without "incident: "
	Stage   string // what failed: "batch", "http poll", "summary check", …
	Level   string // the highest level of its entries
	Opened  time.Time
	Closed  time.Time // zero while open
	Entries []Entry
	// Resolution is the entry that closed it; nil when the incident is an
	// event Inlet contained at once, or is still open.
	Resolution *Entry
	// Contained: an event Inlet dealt with on the spot (skipped duplicates,
	// a failed check under on_check_failure: warn); closed when it opened.
	Contained bool
}

// Open reports whether the incident is still open.
func (in *Incident) Open() bool { return in.Closed.IsZero() }

// Duration is how long it was (or has been, at now) open.
func (in *Incident) Duration(now time.Time) time.Duration {
	if in.Open() {
		return now.Sub(in.Opened)
	}
	return in.Closed.Sub(in.Opened)
}

// scopeKeys are the attrs that tell two incidents of one stage apart.
var scopeKeys = []string{"source", "sink", "table", "topic", "summary", "backfill"}

// stageOf is what a message is about: the words before failed, succeeded
// or committed ("batch", "http poll"), else its first two words.
func stageOf(msg string) string {
	msg = strings.TrimPrefix(strings.TrimPrefix(msg, "incident resolved:"), "incident:")
	msg = strings.TrimPrefix(msg, "incident")
	words := strings.Fields(msg)
	for i, w := range words {
		switch strings.Trim(w, ";,.") {
		case "failed", "succeeded", "committed", "escalated":
			if i > 0 {
				return strings.Join(words[:i], " ")
			}
		}
	}
	if len(words) > 2 {
		words = words[:2]
	}
	return strings.Join(words, " ")
}

// isResolution reports whether an entry closes an incident.
func isResolution(e Entry) bool { return strings.HasPrefix(e.Msg, "incident resolved") }

// lasts reports whether an entry opens an incident that stays open until
// a resolution: a stage that retries, or stopped.
func lasts(e Entry) bool {
	m := e.Msg
	return strings.Contains(m, "retrying") || strings.Contains(m, "permanently") || strings.Contains(m, "did not advance") || strings.Contains(m, "stopped")
}

// scopeOf is the stage plus its scope attrs, as one comparable string.
func scopeOf(e Entry) string {
	var b strings.Builder
	b.WriteString(stageOf(e.Msg))
	for _, k := range scopeKeys {
		if v, ok := e.Attrs[k]; ok {
			fmt.Fprintf(&b, "\x00%s=%v", k, v)
		}
	}
	return b.String()
}

// matches reports whether resolution r (or a continuation) belongs to an
// incident opened by o: same stage, and equal values for the scope attrs
// both carry.
func matches(o, r Entry) bool {
	if stageOf(o.Msg) != stageOf(r.Msg) {
		return false
	}
	for _, k := range scopeKeys {
		a, ok1 := o.Attrs[k]
		b, ok2 := r.Attrs[k]
		if ok1 && ok2 && fmt.Sprint(a) != fmt.Sprint(b) {
			return false
		}
	}
	return true
}

// DeriveID is the id of an incident whose first entry is e: its UTC time
// to the second and 4 bytes of a hash of its exact time and message.
func DeriveID(e Entry) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%d\x00%s", e.Time.UnixNano(), e.Msg)
	return fmt.Sprintf("%s-%08x", e.Time.UTC().Format("20060102-150405"), h.Sum32())
}

// grouper assigns entries to incidents as they come, oldest first. The
// journal handler and Group share it, so an id written in the journal and
// one derived for an older entry follow the same rules.
type grouper struct {
	byID map[string]*Incident
	all  []*Incident
	open []*Incident // lasting incidents not yet resolved, oldest first
}

func newGrouper() *grouper { return &grouper{byID: map[string]*Incident{}} }

// add files e and returns the id of its incident. An entry with an id
// (format 2, or an incident_id attr) joins that incident.
func (g *grouper) add(e Entry) string {
	id := e.ID
	if id == "" {
		if v, ok := e.Attrs["incident_id"].(string); ok {
			id = v
		}
	}
	var in *Incident
	if id != "" {
		in = g.byID[id]
	}
	if in == nil && id == "" {
		// A resolution or a repeated failure joins the latest open
		// incident of its stage and scope.
		for i := len(g.open) - 1; i >= 0; i-- {
			if matches(g.open[i].Entries[0], e) {
				in = g.open[i]
				break
			}
		}
		if in == nil && isResolution(e) {
			// A resolution with nothing open to close (its start was
			// before the journal began): an incident of its own.
			in = g.newIncident(e, DeriveID(e))
			in.Closed, in.Resolution = e.Time, &in.Entries[0]
			return in.ID
		}
	}
	if in == nil {
		if id == "" {
			id = DeriveID(e)
		}
		in = g.newIncident(e, id)
		if !lasts(e) && !isResolution(e) {
			in.Contained, in.Closed = true, e.Time
		} else {
			g.open = append(g.open, in)
		}
		return in.ID
	}
	in.Entries = append(in.Entries, e)
	if rank(e.Level) > rank(in.Level) {
		in.Level = e.Level
	}
	if isResolution(e) && in.Open() {
		in.Closed = e.Time
		in.Resolution = &in.Entries[len(in.Entries)-1]
		g.closeOpen(in)
	}
	return in.ID
}

func (g *grouper) newIncident(e Entry, id string) *Incident {
	in := &Incident{ID: id, Title: strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(e.Msg, "incident resolved:"), "incident:")),
		Stage: stageOf(e.Msg), Level: e.Level, Opened: e.Time, Entries: []Entry{e}}
	g.byID[id] = in
	g.all = append(g.all, in)
	return in
}

func (g *grouper) closeOpen(in *Incident) {
	for i, o := range g.open {
		if o == in {
			g.open = append(g.open[:i], g.open[i+1:]...)
			return
		}
	}
}

func rank(level string) int {
	switch level {
	case "ERROR":
		return 3
	case "WARN":
		return 2
	case "INFO":
		return 1
	}
	return 0
}

// Group turns journal entries (oldest first) into incidents, oldest first.
func Group(entries []Entry) []*Incident {
	g := newGrouper()
	for _, e := range entries {
		g.add(e)
	}
	for _, in := range g.all {
		if in.Resolution != nil { // entries may have grown since it was set
			for i := range in.Entries {
				if in.Entries[i].Time.Equal(in.Resolution.Time) && in.Entries[i].Msg == in.Resolution.Msg {
					in.Resolution = &in.Entries[i]
				}
			}
		}
	}
	sort.SliceStable(g.all, func(i, j int) bool { return g.all[i].Opened.Before(g.all[j].Opened) })
	return g.all
}

// Find returns the incident with id (or the only one whose id starts with
// it) from the journal at path.
func Find(path, id string) (*Incident, error) {
	entries, err := Read(path, time.Time{})
	if err != nil {
		return nil, err
	}
	var found []*Incident
	for _, in := range Group(entries) {
		if in.ID == id {
			return in, nil
		}
		if strings.HasPrefix(in.ID, id) {
			found = append(found, in)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no incident %s in %s (inlet incidents lists them with their ids)", id, path)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%d incidents start with %s; give more of the id", len(found), id)
}
