package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/connectors/conf"
)

func TestNextLink(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{`<https://api.example.com/items?page=2>; rel="next", <https://api.example.com/items?page=9>; rel="last"`}, "https://api.example.com/items?page=2"},
		{[]string{`</items?page=1>; rel="prev"`, `</items?page=3>; rel=next`}, "/items?page=3"},
		{[]string{`<https://x/a>; rel="prev next"`}, "https://x/a"},
		{[]string{`<https://x/a>; rel="last"`}, ""},
		{nil, ""},
	} {
		if got := nextLink(tc.in); got != tc.want {
			t.Errorf("nextLink(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCursorFormats(t *testing.T) {
	for _, tc := range []struct {
		format, a, b string
		less         bool
		param        string // of a, after a 1m lookback
	}{
		{CursorRFC3339, `"2026-01-01T10:00:00.5+02:00"`, `"2026-01-01T09:00:00Z"`, true, "2026-01-01T07:59:00.5Z"},
		{CursorUnix, `1767225600`, `1767225601`, true, "1767225540"},
		{CursorUnixMs, `"1767225600123"`, `1767225600122`, false, "1767225540123"},
		{CursorInteger, `99`, `100`, true, "99"},
		{CursorString, `"v0002"`, `"v0010"`, true, "v0002"},
	} {
		a, err := parseCursor(tc.format, json.RawMessage(tc.a))
		if err != nil {
			t.Fatalf("%s %s: %v", tc.format, tc.a, err)
		}
		b, err := parseCursor(tc.format, json.RawMessage(tc.b))
		if err != nil {
			t.Fatalf("%s %s: %v", tc.format, tc.b, err)
		}
		if a.less(b) != tc.less {
			t.Errorf("%s: %s < %s = %v", tc.format, tc.a, tc.b, a.less(b))
		}
		if got := a.minus(time.Minute).param(tc.format); got != tc.param {
			t.Errorf("%s: param %q, want %q", tc.format, got, tc.param)
		}
		// The stored text reads back as the same value.
		back, err := parseStoredCursor(tc.format, a.text)
		if err != nil || back.less(a) || a.less(back) {
			t.Errorf("%s: %q does not round trip (%v)", tc.format, a.text, err)
		}
	}
	if _, err := parseCursor(CursorRFC3339, json.RawMessage(`"yesterday"`)); err == nil {
		t.Error("a bad time was accepted")
	}
}

// TestPositionGolden round-trips the persisted position and rejects a
// format version this Inlet does not know.
func TestPositionGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/position-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := DecodePosition(bytes.TrimSpace(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := Position{V: 1, Cursor: "2026-01-01T00:00:00.003Z", Seen: map[string]string{`{"id":7}`: "2026-01-01T00:00:00.003Z", `{"id":9}`: "2026-01-01T00:00:00.002Z"}, Seq: 42, Refresh: 1767225600000000}
	if d := cmp.Diff(want, p); d != "" {
		t.Errorf("decoded (-want +got):\n%s", d)
	}
	if got := string(p.encode()); got != string(bytes.TrimSpace(raw)) {
		t.Errorf("re-encoded:\n%s\nwant:\n%s", got, raw)
	}
	if _, err := DecodePosition([]byte(`{"v":2,"cursor":"x"}`)); err == nil || !strings.Contains(err.Error(), "upgrade Inlet") {
		t.Errorf("version 2: err = %v", err)
	}
}

func testSource(t testing.TB) *Source {
	cfg := &Config{URL: "https://api.example.com/items", Records: "/data", PrimaryKey: []string{"id"},
		Cursor: Cursor{Field: "updated", Param: "since", Format: CursorRFC3339, Lookback: conf.Duration(time.Minute)},
		Mode:   Incremental, Schema: map[string]string{"price": "decimal(10,2)"}}
	s := New("shop", "tickets", cfg, func(s string) string { return s }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.pos = Position{V: 1, Seen: map[string]string{}}
	s.base = mustURL(cfg.URL)
	s.srcPrefix = s.sourcePrefix()
	return s
}

// TestEmitDeduplicates: a page read again (inclusive bound, lookback) emits
// nothing twice; a newer version of a record is emitted; the envelope
// decodes with the engine's decoder.
func TestEmitDeduplicates(t *testing.T) {
	s := testSource(t)
	body := []byte(`{"data":[{"id":1,"updated":"2026-01-01T00:00:00Z","title":"a","price":"1.50","tags":["x"]},
		{"id":2,"updated":"2026-01-01T00:00:00Z","title":"b","price":2}]}`)
	p, err := s.parsePage("u", body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.emit(p, "u", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Records) != 3 { // schema + 2
		t.Fatalf("first read: %d records", len(b.Records))
	}
	sc, err := change.DecodeSchema(b.Records[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := change.Decode(b.Records[1].Value, sc)
	if err != nil {
		t.Fatalf("decode %s: %v", b.Records[1].Value, err)
	}
	if ev.Op != change.OpUpdate || ev.Source.CommitLSN != uint64(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()) {
		t.Errorf("event %c version %d", ev.Op, ev.Source.CommitLSN)
	}
	p, _ = s.parsePage("u", body)
	if b, _ = s.emit(p, "u", 0); len(b.Records) != 0 {
		t.Errorf("the same page again emitted %d records", len(b.Records))
	}
	p, _ = s.parsePage("u", []byte(`{"data":[{"id":2,"updated":"2026-01-01T00:00:00Z","title":"b","price":2},{"id":2,"updated":"2026-01-01T00:00:01Z","title":"b2","price":3}]}`))
	if b, _ = s.emit(p, "u", 0); len(b.Records) != 1 {
		t.Errorf("a newer version: %d records, want 1", len(b.Records))
	}
	if s.pos.Cursor != "2026-01-01T00:00:01Z" || len(s.pos.Seen) != 2 {
		t.Errorf("position %+v", s.pos)
	}
}

func TestParsePageErrors(t *testing.T) {
	s := testSource(t)
	for body, want := range map[string]string{
		`<html>oops</html>`: "not JSON",
		`{"items":[]}`:      `no records at "/data"`,
		`{"data":{"id":1}}`: "not an array",
		`{"data":[1]}`:      "record 0 is not an object",
		`{"data":[{"updated":"2026-01-01T00:00:00Z"}]}`: `no primary key field "id"`,
		`{"data":[{"id":1}]}`:                           `no cursor field "updated"`,
		`{"data":[{"id":1,"updated":"soon"}]}`:          "is not an RFC 3339 time",
	} {
		_, err := s.parsePage("https://api.example.com/items?page=1", []byte(body))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "https://api.example.com/items?page=1") {
			t.Errorf("%s: err = %v, want it to name the URL and %q", body, err, want)
		}
	}
}

// FuzzPage feeds arbitrary bodies through page parsing and encoding: no
// panics, and every record emitted decodes with the engine's decoder.
func FuzzPage(f *testing.F) {
	f.Add([]byte(`{"data":[{"id":1,"updated":"2026-01-01T00:00:00Z","title":"a","n":1.5,"ok":true,"o":{"a":[1]}}]}`))
	f.Add([]byte(`{"data":[{"id":"x","updated":"2026-01-01T00:00:00Z","price":"abc"}]}`))
	f.Add([]byte(`{"data":[{"id":1,"updated":"2026-01-01T00:00:00Z","n":1},{"id":2,"updated":"2026-01-01T00:00:00Z","n":"one"}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s := testSource(t)
		p, err := s.parsePage("u", body)
		if err != nil {
			return
		}
		b, err := s.emit(p, "u", 0)
		if err != nil {
			return
		}
		var sc *change.Schema
		for _, r := range b.Records {
			if r.Topic == change.SchemasTopic("shop") {
				if sc, err = change.DecodeSchema(r.Value); err != nil {
					t.Fatalf("schema: %v", err)
				}
				continue
			}
			if _, err := change.Decode(r.Value, sc); err != nil {
				t.Fatalf("record %s does not decode: %v", r.Value, err)
			}
		}
	})
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// TestInferenceWidensWithinAPage: integers and fractions in one page make a
// float column; several kinds make a string; a later fraction in an int
// field is an error that says what to declare.
func TestInferenceWidensWithinAPage(t *testing.T) {
	s := testSource(t)
	p, err := s.parsePage("u", []byte(`{"data":[{"id":1,"updated":"2026-01-01T00:00:00Z","amount":0,"code":1,"count":3},
		{"id":2,"updated":"2026-01-01T00:00:01Z","amount":0.01,"code":"A1","count":4}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.emit(p, "u", 0); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]change.Kind{}
	for _, c := range s.fs.cols {
		kinds[c.Name] = c.Kind
	}
	want := map[string]change.Kind{"id": change.Int64, "updated": change.TimestampTZ, "amount": change.Float64, "code": change.String, "count": change.Int64}
	if d := cmp.Diff(want, kinds); d != "" {
		t.Errorf("kinds (-want +got):\n%s", d)
	}
	p, _ = s.parsePage("u", []byte(`{"data":[{"id":3,"updated":"2026-01-01T00:00:02Z","count":4.5}]}`))
	if _, err := s.emit(p, "u", 0); err == nil || !strings.Contains(err.Error(), "schema: {count: float}") {
		t.Errorf("err = %v", err)
	}
}
