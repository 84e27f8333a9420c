// Package incident keeps the record of every incident: each log record
// whose message starts with "incident" (a failed batch, a failed poll, a
// failed summary check, skipped duplicates, and "incident resolved: …"
// when one ends) is also appended, as one JSON line, to a journal under
// the pipeline's state dir, so an on-call engineer can list what happened
// after the logs have rotated away (`inlet incidents`).
//
// The journal is append-only JSON Lines, one object per record:
//
//	{"v":2,"id":"20261130-103744-1a2b3c4d","time":"2026-11-30T10:37:44.628Z","level":"WARN","msg":"incident: …","attrs":{"sink":"lake",…}}
//
// Format 2 added "id", the incident the record belongs to (a failure, its
// retries and its resolution share one). Format 1 records have none; they
// are grouped by the same rules when read (Group), and get the same ids.
package incident

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/inlet-dev/inlet/internal/fsutil"
)

// Version is the journal line format version this Inlet writes; it reads
// every version from 1 to Version.
const Version = 2

// FileName is the journal's name in the state dir.
const FileName = "incidents.jsonl"

// Path is the journal of a pipeline whose state is in stateDir.
func Path(stateDir string) string { return filepath.Join(stateDir, FileName) }

// Entry is one journal line.
type Entry struct {
	V     int            `json:"v"`
	ID    string         `json:"id,omitempty"` // since format 2
	Time  time.Time      `json:"time"`
	Level string         `json:"level"`
	Msg   string         `json:"msg"`
	Attrs map[string]any `json:"attrs,omitempty"`
}

// journal appends entries to one file; shared by a handler and the
// handlers derived from it.
type journal struct {
	mu   sync.Mutex
	path string
	g    *grouper // incidents so far, read from the journal on first use
}

func (j *journal) append(e Entry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	pl := lockFor(j.path)
	pl.Lock()
	defer pl.Unlock()
	if j.g == nil {
		j.g = newGrouper()
		old, _ := Read(j.path, time.Time{}) // unreadable: ids start afresh
		for _, o := range old {
			j.g.add(o)
		}
	}
	e.ID = j.g.add(e)
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	// One write per line: concurrent processes (run, backfill) append
	// whole lines.
	return fsutil.AppendSync(j.path, append(line, '\n'))
}

// Handler passes every record to the next handler and journals incidents.
type Handler struct {
	next   slog.Handler
	j      *journal
	attrs  []slog.Attr // from WithAttrs, keys already prefixed by groups
	prefix string      // from WithGroup: "group."
}

// NewHandler wraps next so incidents are also appended to the journal at
// path (created on the first incident).
func NewHandler(next slog.Handler, path string) *Handler {
	return &Handler{next: next, j: &journal{path: path}}
}

var _ slog.Handler = (*Handler)(nil)

// Enabled reports whether next handles records at level l.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle journals r if it is an incident, then passes it on. A journal
// that cannot be written is reported on the next handler, not fatal: the
// incident is still logged.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "incident") {
		e := Entry{V: Version, Time: r.Time.UTC(), Level: r.Level.String(), Msg: r.Message, Attrs: map[string]any{}}
		for _, a := range h.attrs {
			addAttr(e.Attrs, "", a)
		}
		r.Attrs(func(a slog.Attr) bool {
			addAttr(e.Attrs, h.prefix, a)
			return true
		})
		if err := h.j.append(e); err != nil {
			warn := slog.NewRecord(time.Now(), slog.LevelError, "incident journal not written; the incident is only in this log", 0)
			warn.AddAttrs(slog.String("journal", h.j.path), slog.String("err", err.Error()))
			h.next.Handle(ctx, warn) //nolint:errcheck // best effort
		}
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a handler whose records carry attrs.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(attrs)
	c.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range attrs {
		a.Key = h.prefix + a.Key
		c.attrs = append(c.attrs, a)
	}
	return &c
}

// WithGroup returns a handler that nests later attrs under name.
func (h *Handler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	if name != "" {
		c.prefix = h.prefix + name + "."
	}
	return &c
}

func addAttr(m map[string]any, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p = prefix + a.Key + "."
		}
		for _, g := range v.Group() {
			addAttr(m, p, g)
		}
		return
	}
	if a.Key == "" {
		return
	}
	switch v.Kind() {
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			m[prefix+a.Key] = err.Error()
			return
		}
		m[prefix+a.Key] = fmt.Sprint(v.Any())
	case slog.KindDuration:
		m[prefix+a.Key] = v.Duration().String()
	case slog.KindTime:
		m[prefix+a.Key] = v.Time().UTC().Format(time.RFC3339Nano)
	default:
		m[prefix+a.Key] = v.Any()
	}
}

// Read returns the journal's entries at or after since, oldest first; none
// if there is no journal yet. A torn last line (a crash mid-write) is
// skipped; any other unreadable line is an error naming its number.
func Read(path string, since time.Time) ([]Entry, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	n := 0
	var bad error
	for sc.Scan() {
		n++
		if bad != nil {
			return nil, bad // the bad line was not the last one
		}
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			bad = fmt.Errorf("%s line %d: %w", path, n, err)
			continue
		}
		if e.V < 1 || e.V > Version {
			return nil, fmt.Errorf("%s line %d: journal format %d; this Inlet reads 1 to %d (upgrade Inlet)", path, n, e.V, Version)
		}
		if !e.Time.Before(since) {
			out = append(out, e)
		}
	}
	return out, sc.Err()
}
