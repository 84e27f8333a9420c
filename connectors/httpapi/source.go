// Package httpapi captures records from JSON HTTP APIs, incrementally by
// an updated-at cursor (or in full each run), as change events.
//
// A poll asks for the records from the committed cursor (minus the
// lookback) on, page by page. Each page's records, with the position after
// it (highest cursor so far, the keys seen in the lookback window),
// commit to Kafka in one transaction: the cursor never passes data that
// is not committed, and a crash repeats at most the page in flight, whose
// records the window then drops as already seen. A page that cannot be
// used (not JSON, wrong shape, a record without its key or cursor, cursor
// values going backwards) is an incident: nothing of it is emitted, the
// cursor stays, and the poll is retried later; repeated failures open a
// circuit that backs off further.
package httpapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/connectors/conf"
	"github.com/inlet-dev/inlet/internal/retry"
)

// Source is one HTTP API source.
type Source struct {
	pipeline, name string
	cfg            *Config
	base           *url.URL
	log            *slog.Logger
	redact         func(string) string
	f              *fetcher
	topic          string
	srcPrefix      []byte // `"source":{"connector":"http",...,"stream":"x",`, the same for every record

	out    chan connectors.Batch
	cancel context.CancelFunc
	done   chan struct{}

	// Owned by the poll goroutine.
	pos       Position
	fs        fieldSchema
	announced string // fingerprint of the schema last sent
	failures  int

	mu     sync.Mutex
	status Status
}

// Status is what a running HTTP source reports for inlet status.
type Status struct {
	Source      string    `json:"source"`
	Cursor      string    `json:"cursor"`  // highest cursor value sent (committed once Kafka commits)
	Records     uint64    `json:"records"` // emitted since the source began
	Requests    int64     `json:"requests"`
	LastPoll    time.Time `json:"last_poll"`
	Failures    int       `json:"consecutive_failures"`
	LastError   string    `json:"last_error,omitempty"` // secrets redacted
	CircuitOpen bool      `json:"circuit_open"`
}

// Status reports the source's progress; safe from any goroutine.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

var _ connectors.Source = (*Source)(nil)

// New returns a source; redact hides secrets in anything it logs.
func New(pipeline, name string, cfg *Config, redact func(string) string, log *slog.Logger) *Source {
	s := &Source{pipeline: pipeline, name: name, cfg: cfg, log: log.With("source", name), redact: redact,
		topic: pipeline + "." + name}
	s.fs = fieldSchema{pk: cfg.PrimaryKey, decl: cfg.Schema, cursor: cfg.Cursor.Field, cformat: cfg.Cursor.Format}
	if s.cfg.Mode == conf.ModeFullRefresh {
		s.fs.cursor = ""
	}
	var lim *rate.Limiter
	if cfg.RateLimit != "" {
		r, _ := ParseRate(cfg.RateLimit)
		lim = rate.NewLimiter(rate.Limit(r), 1)
	}
	s.f = &fetcher{client: &http.Client{Timeout: time.Duration(cfg.Timeout)}, headers: cfg.Headers, limit: lim,
		retries: cfg.MaxRetries, redact: redact}
	return s
}

// Open starts polling after pos (nil: from the beginning).
func (s *Source) Open(ctx context.Context, pos []byte) error {
	p, err := DecodePosition(pos)
	if err != nil {
		return retry.MarkPermanent(fmt.Errorf("source %s: %w", s.name, err))
	}
	if p.Seen == nil {
		p.Seen = map[string]string{}
	}
	s.pos = p
	if s.base, err = url.Parse(s.cfg.URL); err != nil {
		return retry.MarkNeedsUser(fmt.Errorf("source %s: url: %s", s.name, s.redact(err.Error())), "fix the source's url")
	}
	pctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.out, s.done = cancel, make(chan connectors.Batch, 2), make(chan struct{})
	s.srcPrefix = s.sourcePrefix()
	go s.run(pctx)
	return nil
}

// Read returns the next page's records, or an empty batch after 100ms.
func (s *Source) Read(ctx context.Context) (connectors.Batch, error) {
	t := time.NewTimer(100 * time.Millisecond)
	defer t.Stop()
	select {
	case b := <-s.out:
		return b, nil
	case <-t.C:
		return connectors.Batch{}, nil
	case <-ctx.Done():
		return connectors.Batch{}, ctx.Err()
	}
}

// Ack has nothing to release: the API keeps no state for us.
func (s *Source) Ack(context.Context, []byte) error { return nil }

// Reopen implements capture.Reopener: polling starts over after pos, the
// last committed position (pages read since are polled again).
func (s *Source) Reopen(ctx context.Context, pos []byte) error {
	s.Close()
	return s.Open(ctx, pos)
}

// Close stops polling; pages not yet read are dropped (not committed).
func (s *Source) Close() error {
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	return nil
}

// run polls until ctx ends, every poll_interval; failed polls back off.
func (s *Source) run(ctx context.Context) {
	defer close(s.done)
	for {
		start := time.Now()
		var err error
		if s.cfg.Mode == conf.ModeFullRefresh {
			err = s.pollFull(ctx)
		} else {
			err = s.poll(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		wait := time.Duration(s.cfg.PollInterval) - time.Since(start)
		lastErr := ""
		if err != nil {
			lastErr = s.redact(err.Error())
			s.failures++
			pollFailures.WithLabelValues(s.name).Inc()
			s.log.Error("incident: http poll failed; the cursor did not advance", "err", lastErr, "consecutive_failures", s.failures, "cursor", s.pos.Cursor)
			if s.failures >= 3 {
				// Circuit open: stop hammering a failing API.
				wait = min(time.Duration(s.cfg.PollInterval)<<min(s.failures-2, 6), 30*time.Minute)
				s.log.Warn("http circuit open: pausing requests to the API", "for", wait.Round(time.Second))
			}
		} else if s.failures > 0 {
			s.log.Info("incident resolved: http poll succeeded", "after_failures", s.failures)
			s.failures = 0
		}
		s.mu.Lock()
		s.status = Status{Source: s.name, Cursor: s.pos.Cursor, Records: s.pos.Seq, Requests: s.f.requests, LastPoll: start.UTC(),
			Failures: s.failures, LastError: lastErr, CircuitOpen: s.failures >= 3}
		s.mu.Unlock()
		if err := sleepCtx(ctx, max(wait, 0)); err != nil {
			return
		}
	}
}

func (s *Source) send(ctx context.Context, b connectors.Batch) error {
	select {
	case s.out <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// page is one response's records, checked.
type page struct {
	recs   []map[string]json.RawMessage
	keys   []string // each record's primary key as a JSON object
	cursor []cval
	n      int // records in the response (before de-duplication)
}

// parsePage checks a response body: JSON, records where the pointer says,
// every record an object with its primary key (and cursor).
func (s *Source) parsePage(u string, body []byte) (*page, error) {
	raw, ok, err := pointerRaw(body, s.cfg.Records)
	if err != nil || !ok || len(raw) == 0 || raw[0] != '[' {
		// Tell a body that is not JSON from one of another shape (the
		// full check is paid only on this failure path).
		if !json.Valid(body) {
			return nil, &apiError{url: u, msg: "the body is not JSON", sample: s.redact(sample(body))}
		}
	}
	if err != nil || !ok {
		return nil, &apiError{url: u, msg: fmt.Sprintf("no records at %q (check records: in the source config)", s.cfg.Records), sample: s.redact(sample(body))}
	}
	if len(raw) == 0 || raw[0] != '[' {
		return nil, &apiError{url: u, msg: fmt.Sprintf("records at %q are not an array", s.cfg.Records), sample: s.redact(sample(raw))}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, &apiError{url: u, msg: "records: " + err.Error(), sample: s.redact(sample(raw))}
	}
	p := &page{n: len(items)}
	for i, it := range items {
		var rec map[string]json.RawMessage
		if err := json.Unmarshal(it, &rec); err != nil || rec == nil {
			return nil, &apiError{url: u, msg: fmt.Sprintf("record %d is not an object", i), sample: s.redact(sample(it))}
		}
		key := []byte{'{'}
		for j, k := range s.cfg.PrimaryKey {
			v, ok := rec[k]
			if !ok || bytes.Equal(v, []byte("null")) {
				return nil, &apiError{url: u, msg: fmt.Sprintf("record %d has no primary key field %q", i, k), sample: s.redact(sample(it))}
			}
			if j > 0 {
				key = append(key, ',')
			}
			key = appendString(key, k)
			key = append(key, ':')
			var b bytes.Buffer
			json.Compact(&b, v)
			key = append(key, b.Bytes()...)
		}
		key = append(key, '}')
		var cv cval
		if s.fs.cursor != "" {
			v, ok := rec[s.fs.cursor]
			if !ok || bytes.Equal(v, []byte("null")) {
				return nil, &apiError{url: u, msg: fmt.Sprintf("record %d has no cursor field %q", i, s.fs.cursor), sample: s.redact(sample(it))}
			}
			if cv, err = parseCursor(s.cfg.Cursor.Format, v); err != nil {
				return nil, &apiError{url: u, msg: fmt.Sprintf("record %d: cursor field %q: %v", i, s.fs.cursor, err), sample: s.redact(sample(it))}
			}
		}
		p.recs = append(p.recs, rec)
		p.keys = append(p.keys, string(key))
		p.cursor = append(p.cursor, cv)
	}
	return p, nil
}

// params are the query parameters every request of a poll carries.
func (s *Source) params() url.Values {
	q := url.Values{}
	for k, v := range s.cfg.Params {
		q.Set(k, v)
	}
	return q
}

// eachPage fetches and checks every page of one poll and hands each to
// fn, which sends what it makes of it; errors name the page's URL.
func (s *Source) eachPage(ctx context.Context, params url.Values, fn func(p *page, shown string, body []byte) error) error {
	pg := &pager{cfg: s.cfg.Pagination}
	for u := pg.first(s.base, params); u != nil; {
		shown := s.redact(u.String())
		body, hdr, err := s.f.get(ctx, u)
		if err != nil {
			return err
		}
		p, err := s.parsePage(shown, body)
		if err != nil {
			return err
		}
		if err := fn(p, shown, body); err != nil {
			return err
		}
		if u, err = pg.next(u, body, hdr, p.n); err != nil {
			return &apiError{url: shown, msg: err.Error(), sample: s.redact(sample(body))}
		}
	}
	return nil
}

// poll runs one incremental poll: every page from the committed cursor
// (minus the lookback), each committed with the position after it.
func (s *Source) poll(ctx context.Context) error {
	params := s.params()
	var lower cval
	if s.pos.Cursor != "" {
		cur, err := parseStoredCursor(s.cfg.Cursor.Format, s.pos.Cursor)
		if err != nil {
			return fmt.Errorf("committed cursor %q: %w", s.pos.Cursor, err)
		}
		lower = cur.minus(time.Duration(s.cfg.Cursor.Lookback))
		params.Set(s.cfg.Cursor.Param, lower.param(s.cfg.Cursor.Format))
	}
	prev := lower
	return s.eachPage(ctx, params, func(p *page, shown string, body []byte) error {
		// The whole page is checked before anything of it is emitted.
		for i, cv := range p.cursor {
			if prev.set && cv.less(prev) {
				return &apiError{url: shown, msg: fmt.Sprintf("cursor values go backwards at record %d (%s after %s): the API must return records sorted by %s ascending (set it in params) and honour %s as an inclusive lower bound",
					i, cv.text, prev.text, s.fs.cursor, s.cfg.Cursor.Param), sample: s.redact(sample(body))}
			}
			prev = cv
		}
		b, err := s.emit(p, shown, 0)
		if err != nil {
			return &apiError{url: shown, msg: err.Error()}
		}
		return s.send(ctx, b)
	})
}

// emit turns a checked page into records and advances the in-memory
// position; the batch carries that position. In a full refresh (gen > 0)
// records are reads of generation gen and the position is unchanged.
func (s *Source) emit(p *page, request string, gen uint64) (connectors.Batch, error) {
	full := gen > 0
	var out []connectors.Record
	// Encode first into a scratch position: an encoding error (a value
	// that does not fit its column) must leave the position as it was.
	seen := map[string]string{}
	seq := s.pos.Seq
	high, _ := parseStoredCursor(s.cfg.Cursor.Format, s.pos.Cursor) // unset when there is none
	now := time.Now().UnixMilli()
	s.fs.observePage(p.recs, s.pipeline, s.name, s.base.Host)
	// The schema goes out with the first batch that uses it; a page that
	// fails is dropped with its schema record, so the next one sends it.
	announce := s.fs.sc != nil && s.fs.sc.Fingerprint != s.announced
	if announce {
		v, _ := json.Marshal(s.fs.sc)
		out = append(out, connectors.Record{Topic: change.SchemasTopic(s.pipeline), Key: []byte(s.topic + "/" + s.fs.sc.Fingerprint), Value: v})
	}
	var buf []byte
	for i, rec := range p.recs {
		key, cv := p.keys[i], p.cursor[i]
		if !full {
			old, ok := seen[key]
			if !ok {
				old, ok = s.pos.Seen[key]
			}
			if ok {
				if oc, err := parseStoredCursor(s.cfg.Cursor.Format, old); err == nil && !oc.less(cv) {
					continue // this version (or a newer one) was emitted
				}
			}
		}
		seq++
		op := byte(change.OpUpdate)
		version := gen
		tsMs := now
		switch {
		case full:
			op = change.OpRead
		default:
			version = cv.version(seq)
			if cv.isTime {
				tsMs = cv.t.UnixMilli()
			}
			if s.cfg.CreatedField != "" && bytes.Equal(rec[s.cfg.CreatedField], rec[s.fs.cursor]) {
				op = change.OpCreate
			}
		}
		var err error
		start := len(buf)
		if buf, err = s.appendRecord(buf, rec, op, version, uint32(i+1), tsMs, now, cv.text, request); err != nil {
			return connectors.Batch{}, fmt.Errorf("record %d: %w", i, err)
		}
		k1 := start + bytes.IndexByte(buf[start:], 0)
		out = append(out, s.record(buf[start:k1:k1], buf[k1+1:len(buf):len(buf)], version, seq))
		if !full {
			seen[key] = cv.text
			if high.less(cv) || !high.set {
				high = cv
			}
		}
	}
	s.pos.Seq = seq
	if announce {
		s.announced = s.fs.sc.Fingerprint
		s.log.Info("record schema", "fingerprint", s.fs.sc.Fingerprint, "columns", len(s.fs.cols))
	}
	if !full {
		for k, v := range seen {
			s.pos.Seen[k] = v
		}
		if high.set {
			s.pos.Cursor = high.text
			// Keep the window: keys whose cursor is within the lookback
			// of the highest (at least those equal to it).
			floor := high.minus(time.Duration(s.cfg.Cursor.Lookback))
			for k, v := range s.pos.Seen {
				if c, err := parseStoredCursor(s.cfg.Cursor.Format, v); err != nil || c.less(floor) {
					delete(s.pos.Seen, k)
				}
			}
		}
	}
	recordsEmitted.WithLabelValues(s.name).Add(float64(len(out)))
	return connectors.Batch{Records: out, Position: s.pos.encode()}, nil
}

// appendRecord appends key, a 0 byte, and the envelope of one record.
func (s *Source) appendRecord(buf []byte, rec map[string]json.RawMessage, op byte, version uint64, seq uint32, tsMs, nowMs int64, cursor, request string) ([]byte, error) {
	cols := s.fs.cols
	names := s.fs.sc.Columns // the envelope's names (reserved ones renamed)
	var err error
	buf = append(buf, '{')
	for i, c := range cols {
		if !c.Key {
			continue
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, names[i].Name)
		buf = append(buf, ':')
		if buf, err = appendValue(buf, &cols[i], rec[c.Name]); err != nil {
			return buf, err
		}
	}
	buf = append(buf, '}', 0)
	buf = append(buf, `{"v":1,"op":"`...)
	buf = append(buf, op, '"')
	buf = append(buf, `,"before":null,"after":{`...)
	for i := range cols {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendString(buf, names[i].Name)
		buf = append(buf, ':')
		if buf, err = appendValue(buf, &cols[i], rec[cols[i].Name]); err != nil {
			return buf, err
		}
	}
	buf = append(buf, "},"...)
	buf = append(buf, s.srcPrefix...)
	buf = append(buf, `"cursor":`...)
	buf = appendString(buf, cursor)
	buf = append(buf, `,"request":`...)
	buf = appendString(buf, request)
	buf = append(buf, `,"lsn":0,"commit_lsn":`...)
	buf = strconv.AppendUint(buf, version, 10)
	buf = append(buf, `,"seq":`...)
	buf = strconv.AppendUint(buf, uint64(seq), 10)
	buf = append(buf, `,"txid":0,"ts_ms":`...)
	buf = strconv.AppendInt(buf, tsMs, 10)
	buf = append(buf, `,"snapshot":`...)
	buf = strconv.AppendBool(buf, op == change.OpRead)
	buf = append(buf, `},"ts_ms":`...)
	buf = strconv.AppendInt(buf, nowMs, 10)
	buf = append(buf, `,"schema":"`...)
	buf = append(buf, s.fs.sc.Fingerprint...)
	return append(buf, '"', '}'), nil
}

// pollFull copies everything: each record once (by primary key) as a read
// of a new generation, then a marker that makes the sinks swap the new
// copy in for the old one. Records gone since the last copy are gone
// from the sinks' current tables after the swap.
func (s *Source) pollFull(ctx context.Context) error {
	gen := uint64(time.Now().UnixMicro())
	if gen <= uint64(s.pos.Refresh) {
		gen = uint64(s.pos.Refresh) + 1
	}
	seen := map[string]bool{}
	rows := 0
	err := s.eachPage(ctx, s.params(), func(p *page, shown string, _ []byte) error {
		keep := &page{n: p.n}
		for i, k := range p.keys {
			if !seen[k] {
				seen[k] = true
				keep.recs, keep.keys, keep.cursor = append(keep.recs, p.recs[i]), append(keep.keys, k), append(keep.cursor, p.cursor[i])
			}
		}
		b, err := s.emit(keep, shown, gen)
		if err != nil {
			return &apiError{url: shown, msg: err.Error()}
		}
		rows += len(keep.recs)
		return s.send(ctx, b)
	})
	if err != nil {
		return err
	}
	if s.fs.sc == nil {
		return errors.New("the API returned no records, so there is no schema yet to refresh; nothing sent")
	}
	s.pos.Refresh = int64(gen)
	marker := s.marker(gen, rows)
	s.log.Info("full refresh pulled", "records", rows, "gen", gen)
	return s.send(ctx, connectors.Batch{Records: []connectors.Record{marker}, Position: s.pos.encode()})
}

// marker is the op "f" record closing refresh generation gen.
func (s *Source) marker(gen uint64, rows int) connectors.Record {
	s.pos.Seq++
	now := time.Now().UnixMilli()
	buf := append([]byte(`{"v":1,"op":"f","before":null,"after":null,`), s.srcPrefix...)
	buf = append(buf, `"lsn":0,"commit_lsn":`...)
	buf = strconv.AppendUint(buf, gen, 10)
	buf = append(buf, `,"seq":`...)
	buf = strconv.AppendInt(buf, int64(rows), 10)
	buf = append(buf, `,"txid":0,"ts_ms":`...)
	buf = strconv.AppendInt(buf, now, 10)
	buf = append(buf, `,"snapshot":true},"ts_ms":`...)
	buf = strconv.AppendInt(buf, now, 10)
	buf = append(buf, `,"schema":"`...)
	buf = append(buf, s.fs.sc.Fingerprint...)
	buf = append(buf, '"', '}')
	return s.record([]byte("{}"), buf, gen, s.pos.Seq)
}

// record is one change record of the stream: headers with its version and
// schema, and its Order (the emit sequence, which only grows).
func (s *Source) record(key, value []byte, version, seq uint64) connectors.Record {
	return connectors.Record{Topic: s.topic, Key: key, Value: value,
		Headers: []connectors.Header{{Key: change.HeaderCommitLSN, Value: strconv.AppendUint(nil, version, 10)}, {Key: change.HeaderSchema, Value: []byte(s.fs.sc.Fingerprint)}},
		Order:   binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, seq), 0)}
}

// sourcePrefix is the start of every envelope's source block.
func (s *Source) sourcePrefix() []byte {
	b := []byte(`"source":{"connector":"http","pipeline":`)
	b = appendString(b, s.pipeline)
	b = append(b, `,"db":`...)
	b = appendString(b, s.base.Host)
	b = append(b, `,"schema":"public","table":`...)
	b = appendString(b, s.name)
	b = append(b, `,"stream":`...)
	b = appendString(b, s.name)
	return append(b, ',')
}
