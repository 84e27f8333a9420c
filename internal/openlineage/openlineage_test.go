package openlineage

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/inlet-dev/inlet/internal/config"
)

// schemas compiles the vendored OpenLineage spec (spec/OpenLineage.json
// and the facets used, from github.com/OpenLineage/OpenLineage).
func schemas(t *testing.T) (event *jsonschema.Schema, facets map[string]*jsonschema.Schema) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	files := map[string]string{
		"OpenLineage.json":                        "https://openlineage.io/spec/2-0-2/OpenLineage.json",
		"OutputStatisticsOutputDatasetFacet.json": "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json",
		"InputStatisticsInputDatasetFacet.json":   "https://openlineage.io/spec/facets/1-0-0/InputStatisticsInputDatasetFacet.json",
		"ErrorMessageRunFacet.json":               "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json",
		"JobTypeJobFacet.json":                    "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json",
	}
	for f, id := range files {
		r, err := os.Open(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(id, doc); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if event, err = c.Compile(files["OpenLineage.json"]); err != nil {
		t.Fatal(err)
	}
	facets = map[string]*jsonschema.Schema{}
	for _, u := range []string{outputStatsURL, inputStatsURL, errorMessageURL, jobTypeURL} {
		if facets[u], err = c.Compile(u); err != nil {
			t.Fatal(err)
		}
	}
	return event, facets
}

// validate checks one event against the spec, and each facet it carries
// against the facet's own schema (named by its _schemaURL).
func validate(t *testing.T, body []byte, event *jsonschema.Schema, facets map[string]*jsonschema.Schema) map[string]any {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	if err := event.Validate(inst); err != nil {
		t.Errorf("event does not validate against OpenLineage.json: %v\n%s", err, body)
	}
	var walk func(v any)
	n := 0
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if u, ok := x["_schemaURL"].(string); ok {
				s := facets[u]
				if s == nil {
					t.Errorf("facet with unknown schema %s", u)
				} else if err := s.Validate(x); err != nil {
					t.Errorf("facet does not validate against %s: %v", u, err)
				}
				n++
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(inst)
	if n == 0 {
		t.Errorf("no facet in %s", body)
	}
	var m map[string]any
	json.Unmarshal(body, &m)
	return m
}

func testConfig(t *testing.T, extra string) *config.Config {
	t.Helper()
	c, err := config.Parse("p.yaml", []byte(`pipeline: shop
sources:
  - name: pg
    postgres:
      dsn: "postgres://inlet:secret@db.example.com:5432/app"
      tables: [public.orders]
lake:
  path: "file:///var/lib/inlet/lake"
clickhouse:
  addr: "ch.example.com:9000"
  database: shop
lineage:
  openlineage:
`+extra))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEventsValidate sends a window's START, COMPLETE and another's FAIL
// to a local receiver and checks every event against the published spec.
func TestEventsValidate(t *testing.T) {
	var mu sync.Mutex
	var got [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s with content type %q", r.Method, r.Header.Get("Content-Type"))
		}
		mu.Lock()
		got = append(got, b)
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "events.jsonl")
	c := testConfig(t, "    url: \""+srv.URL+"/api/v1/lineage\"\n    file: \""+file+"\"\n")
	em := New(c.Pipeline, c.Lineage.OpenLineage, "0.1.0")
	ctx := context.Background()

	in, out := Datasets(c, "public.orders")
	in[0].Rows, in[1].Rows, out[0].Rows, out[1].Rows = 1200, 1200, 1200, 1180
	run, err := em.Start(ctx, Window{Table: "public.orders", Inputs: in, Outputs: out})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Complete(ctx); err != nil {
		t.Fatal(err)
	}
	failed, _ := em.Start(ctx, Window{Table: "public.orders", Inputs: in, Outputs: out})
	if err := failed.Fail(ctx, errors.New("clickhouse: connection refused")); err != nil {
		t.Fatal(err)
	}

	event, facets := schemas(t)
	if len(got) != 4 {
		t.Fatalf("receiver got %d events, want 4", len(got))
	}
	var types []string
	for _, b := range got {
		m := validate(t, b, event, facets)
		types = append(types, m["eventType"].(string))
		if strings.Contains(string(b), "secret") {
			t.Errorf("event leaks the DSN password: %s", b)
		}
	}
	if strings.Join(types, ",") != "START,COMPLETE,START,FAIL" {
		t.Errorf("event types %v", types)
	}
	var done map[string]any
	json.Unmarshal(got[1], &done)
	if done["run"].(map[string]any)["runId"] != run.ID() {
		t.Errorf("COMPLETE has another run id than START")
	}
	wantIn := `[{"inputFacets":{"inputStatistics":{"_producer":"https://github.com/inlet-dev/inlet/tree/0.1.0","_schemaURL":"` + inputStatsURL + `","rowCount":1200}},"name":"app.public.orders","namespace":"postgres://db.example.com:5432"},{"inputFacets":{"inputStatistics":{"_producer":"https://github.com/inlet-dev/inlet/tree/0.1.0","_schemaURL":"` + inputStatsURL + `","rowCount":1200}},"name":"shop.public.orders","namespace":"kafka://embedded.shop"}]`
	if b, _ := json.Marshal(done["inputs"]); string(b) != wantIn {
		t.Errorf("inputs\n got %s\nwant %s", b, wantIn)
	}
	if b, _ := json.Marshal(done["outputs"]); !strings.Contains(string(b), `"name":"/var/lib/inlet/lake/public.orders","namespace":"file"`) ||
		!strings.Contains(string(b), `"name":"shop.orders","namespace":"clickhouse://ch.example.com:9000"`) || !strings.Contains(string(b), `"rowCount":1180`) {
		t.Errorf("outputs %s", b)
	}
	if !strings.Contains(string(got[3]), "connection refused") {
		t.Errorf("FAIL carries no error message: %s", got[3])
	}

	// The file got the same events, one JSON line each.
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	lines := 0
	for sc.Scan() {
		validate(t, sc.Bytes(), event, facets)
		lines++
	}
	if lines != 4 {
		t.Errorf("file has %d lines, want 4", lines)
	}
}

// TestReceiverDown: an endpoint that fails is an error to log, not a panic
// or a hang; a nil emitter (no openlineage config) does nothing.
func TestReceiverDown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer srv.Close()
	c := testConfig(t, "    url: \""+srv.URL+"\"\n")
	em := New(c.Pipeline, c.Lineage.OpenLineage, "")
	if _, err := em.Start(context.Background(), Window{Table: "public.orders"}); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("err %v, want one naming HTTP 503", err)
	}
	var none *Emitter
	r, err := none.Start(context.Background(), Window{})
	if r != nil || err != nil || r.Complete(context.Background()) != nil || r.Fail(context.Background(), errors.New("x")) != nil {
		t.Errorf("nil emitter did something")
	}
}
