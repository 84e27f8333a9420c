package runner

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/connectors/clickhouse"
	"github.com/inlet-dev/inlet/engine"
	"github.com/inlet-dev/inlet/internal/config"
)

// TestLineageEventsFail: a ClickHouse batch that failed is one run per
// table: START then FAIL with the error, naming the ClickHouse output only;
// a committed lake batch is START then COMPLETE.
func TestLineageEventsFail(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "lineage.jsonl")
	c, err := config.Parse("p.yaml", []byte(`pipeline: shop
state_dir: `+dir+`
sources:
  - name: pg
    postgres:
      dsn: "postgres://u@db:5432/shop"
      tables: [public.orders]
lake:
  path: `+filepath.Join(dir, "lake")+`
clickhouse:
  addr: ch:9000
  database: shop
lineage:
  openlineage:
    file: `+events+`
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	l := newLineageEvents(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	l.failed(engine.BatchStats{Sink: clickhouse.SinkName, Tables: map[string]int64{"public.orders": 7}}, errors.New("clickhouse: insert: read: i/o timeout"))
	l.batch(engine.BatchStats{Sink: "lake", Tables: map[string]int64{"public.orders": 7}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.run(ctx); close(done) }()
	var lines []string
	for deadline := time.Now().Add(10 * time.Second); len(lines) < 4; time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(events)
		lines = strings.Split(strings.TrimSpace(string(b)), "\n")
		if time.Now().After(deadline) {
			t.Fatalf("events: %q", b)
		}
	}
	cancel()
	<-done
	type ev struct {
		EventType string `json:"eventType"`
		Run       struct {
			RunID  string                     `json:"runId"`
			Facets map[string]json.RawMessage `json:"facets"`
		} `json:"run"`
		Outputs []struct {
			Namespace string `json:"namespace"`
		} `json:"outputs"`
	}
	var got []ev
	for _, line := range lines {
		var e ev
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	if got[0].EventType != "START" || got[1].EventType != "FAIL" || got[0].Run.RunID != got[1].Run.RunID {
		t.Fatalf("failed batch: %s, %s (same run: %v); want START, FAIL of one run", got[0].EventType, got[1].EventType, got[0].Run.RunID == got[1].Run.RunID)
	}
	if m := string(got[1].Run.Facets["errorMessage"]); !strings.Contains(m, "i/o timeout") {
		t.Errorf("FAIL errorMessage facet %s", m)
	}
	for _, o := range got[1].Outputs {
		if !strings.HasPrefix(o.Namespace, "clickhouse") {
			t.Errorf("FAIL of a clickhouse batch names output %s", o.Namespace)
		}
	}
	if len(got[1].Outputs) == 0 {
		t.Error("FAIL names no output")
	}
	if got[2].EventType != "START" || got[3].EventType != "COMPLETE" {
		t.Errorf("committed batch: %s, %s; want START, COMPLETE", got[2].EventType, got[3].EventType)
	}
}
