package incident

import (
	"bytes"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var fixtureNow = time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)

// TestGroup groups a recorded journal (format 1 lines, and one format 2
// line with its id) into incidents with stable ids.
func TestGroup(t *testing.T) {
	entries, err := Read("testdata/incidents.jsonl", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	got := Group(entries)
	type row struct {
		ID, Stage  string
		Entries    int
		Open       bool
		Contained  bool
		ResolvedBy string
	}
	var rows []row
	for _, in := range got {
		r := row{ID: in.ID, Stage: in.Stage, Entries: len(in.Entries), Open: in.Open(), Contained: in.Contained}
		if in.Resolution != nil {
			r.ResolvedBy = in.Resolution.Msg
		}
		rows = append(rows, r)
	}
	want := []row{
		{ID: "20261130-103744-447ac0f8", Stage: "batch", Entries: 4, ResolvedBy: "incident resolved: batch committed after retry"},
		{ID: "20261130-103744-f5314df9", Stage: "skipped records", Entries: 1, Contained: true},
		{ID: "20261130-103750-f24a442f", Stage: "http poll", Entries: 1, Open: true},
		{ID: "20261130-104100-0badcafe", Stage: "summary check", Entries: 1, Contained: true},
	}
	if d := cmp.Diff(want, rows); d != "" {
		t.Errorf("incidents (-want +got):\n%s", d)
	}
	// Ids are stable: the same journal read again, or grown, gives them.
	more := append(entries, Entry{V: 2, Time: fixtureNow, Level: "INFO", Msg: "incident resolved: http poll succeeded", Attrs: map[string]any{"source": "tickets"}})
	again := Group(more)
	for i := range got {
		if again[i].ID != got[i].ID {
			t.Errorf("incident %d: id %s, then %s after the journal grew", i, got[i].ID, again[i].ID)
		}
	}
	if again[2].Open() || again[2].Resolution == nil {
		t.Errorf("the http poll incident did not close on its resolution: %+v", again[2])
	}
}

// TestReportGolden renders the post-mortem of the recorded batch incident.
func TestReportGolden(t *testing.T) {
	for _, id := range []string{"20261130-103744-447ac0f8", "20261130-103750"} {
		in, err := Find("testdata/incidents.jsonl", id)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := Report(&b, in, "shop", fixtureNow); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", "report-"+in.ID+".md")
		if *update {
			os.WriteFile(path, b.Bytes(), 0o644)
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(string(want), b.String()); d != "" {
			t.Errorf("%s (-want +got); go test -update if intended:\n%s", path, d)
		}
	}
	if _, err := Find("testdata/incidents.jsonl", "2026"); err == nil || !strings.Contains(err.Error(), "give more") {
		t.Errorf("an ambiguous prefix: %v", err)
	}
}

// TestHandlerWritesIDs: the journal handler writes format 2 lines whose id
// is the incident's, continuing incidents a previous process opened.
func TestHandlerWritesIDs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	old, _ := os.ReadFile("testdata/incidents.jsonl")
	os.WriteFile(path, old, 0o644)
	var out bytes.Buffer
	log := slog.New(NewHandler(slog.NewTextHandler(&out, nil), path))
	log.Error("incident: http poll failed; the cursor did not advance", "source", "tickets", "consecutive_failures", 2)
	log.Info("incident resolved: http poll succeeded", "source", "tickets", "after_failures", 2)
	log.Error("incident: batch failed; retrying", "attempt", 1)
	entries, err := Read(path, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	n := len(entries)
	if entries[n-3].V != Version || entries[n-3].ID != "20261130-103750-f24a442f" || entries[n-2].ID != entries[n-3].ID {
		t.Errorf("continuation and resolution: %+v %+v; want both filed under the open http poll incident", entries[n-3], entries[n-2])
	}
	if entries[n-1].ID == "" || entries[n-1].ID == "20261130-103744-447ac0f8" {
		t.Errorf("a new batch failure after the old one resolved must open a new incident, got id %q", entries[n-1].ID)
	}
	if got := Group(entries); got[len(got)-1].ID != entries[n-1].ID {
		t.Errorf("Group disagrees with the id the handler wrote")
	}
}

// TestEscalate: an incident open longer than the limit is returned on
// every check and logged once, also across processes.
func TestEscalate(t *testing.T) {
	dir := t.TempDir()
	old, _ := os.ReadFile("testdata/incidents.jsonl")
	os.WriteFile(Path(dir), old, 0o644)
	var out bytes.Buffer
	log := slog.New(NewHandler(slog.NewTextHandler(&out, nil), Path(dir)))
	esc := NewEscalator(dir, 15*time.Minute, log)
	if got, err := esc.Check(time.Date(2026, 11, 30, 10, 40, 0, 0, time.UTC)); err != nil || len(got) != 0 {
		t.Fatalf("at 10:40 (open 10m): %v %v, want none", got, err)
	}
	for i := 0; i < 2; i++ {
		got, err := esc.Check(fixtureNow)
		if err != nil || len(got) != 1 || got[0].Stage != "http poll" {
			t.Fatalf("check %d: %v %v, want the http poll incident", i, got, err)
		}
	}
	if n := strings.Count(out.String(), "incident escalated"); n != 1 {
		t.Errorf("logged %d escalations, want 1:\n%s", n, out.String())
	}
	// A new process (a new escalator) does not log it again.
	out.Reset()
	if _, err := NewEscalator(dir, 15*time.Minute, log).Check(fixtureNow); err != nil || out.Len() != 0 {
		t.Errorf("second process logged %q (err %v)", out.String(), err)
	}
	entries, _ := Read(Path(dir), time.Time{})
	in := Group(entries)[2]
	if in.Stage != "http poll" || len(in.Entries) != 2 || !in.Open() {
		t.Errorf("the escalation is not filed under its incident (still open): %+v", in)
	}
}
