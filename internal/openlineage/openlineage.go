// Package openlineage emits OpenLineage run events for Inlet's committed
// batch windows, to an HTTP endpoint (a POST per event, e.g. Marquez) and
// or a file (one JSON line per event).
//
// One run is one batch window of one table: START when the engine begins
// writing it, then COMPLETE once every sink committed it, or FAIL. The job
// is the table's flow, "<pipeline>.<schema.table>"; the run's inputs are
// the source table (or HTTP stream) and its Kafka topic, its outputs the
// Delta table and the ClickHouse mirror, each with the rows of the window
// (inputStatistics, outputStatistics facets).
//
// Datasets are named as the OpenLineage naming spec says (spec/Naming.md):
// Postgres postgres://host:port + db.schema.table, Kafka kafka://broker +
// topic, a local Delta table file + its path, ClickHouse
// clickhouse://host:port + db.table.
//
// Emitting never blocks the pipeline for long (5s per request) and never
// fails it: the caller logs the error and goes on.
package openlineage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/lake"
)

// Spec versions this package writes.
const (
	SchemaURL        = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
	outputStatsURL   = "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet"
	inputStatsURL    = "https://openlineage.io/spec/facets/1-0-0/InputStatisticsInputDatasetFacet.json#/$defs/InputStatisticsInputDatasetFacet"
	errorMessageURL  = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
	jobTypeURL       = "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
	defaultProducer  = "https://github.com/inlet-dev/inlet"
	eventTypeStart   = "START"
	eventTypeDone    = "COMPLETE"
	eventTypeFail    = "FAIL"
	requestTimeout   = 5 * time.Second
	contentTypeJSON  = "application/json"
	integrationInlet = "INLET"
)

// Dataset is one input or output of a window, with the rows it read or
// wrote there (-1: unknown, not reported).
type Dataset struct {
	Namespace string
	Name      string
	Rows      int64
}

// Window is one committed (or failed) batch window of one table.
type Window struct {
	Table   string // schema.table, or the HTTP source's stream name
	Inputs  []Dataset
	Outputs []Dataset
}

// Emitter sends run events. Its methods are safe for concurrent use.
type Emitter struct {
	pipeline  string
	namespace string
	url       string
	file      string
	producer  string
	client    *http.Client
	mu        sync.Mutex // serialises file appends
	now       func() time.Time
}

// New returns an emitter for pipeline, or nil when cfg is nil (a nil
// *Emitter's methods do nothing, so the engine needs no check).
func New(pipeline string, cfg *config.OpenLineage, version string) *Emitter {
	if cfg == nil {
		return nil
	}
	ns := cfg.Namespace
	if ns == "" {
		ns = "inlet"
	}
	prod := defaultProducer
	if version != "" {
		prod += "/tree/" + version
	}
	return &Emitter{pipeline: pipeline, namespace: ns, url: cfg.URL, file: cfg.File, producer: prod,
		client: &http.Client{Timeout: requestTimeout}, now: time.Now}
}

// Run is one started window.
type Run struct {
	e  *Emitter
	id string
	w  Window
}

// ID is the run's id (a UUID).
func (r *Run) ID() string {
	if r == nil {
		return ""
	}
	return r.id
}

// Start emits START for a window and returns its run. The run is returned
// even when the event could not be sent (with the error), so COMPLETE or
// FAIL can still follow.
func (e *Emitter) Start(ctx context.Context, w Window) (*Run, error) {
	if e == nil {
		return nil, nil
	}
	r := &Run{e: e, id: uuid.NewString(), w: w}
	return r, e.emit(ctx, r.event(eventTypeStart, nil, false))
}

// Complete emits COMPLETE, with the window's row counts.
func (r *Run) Complete(ctx context.Context) error {
	if r == nil {
		return nil
	}
	return r.e.emit(ctx, r.event(eventTypeDone, nil, true))
}

// Fail emits FAIL with the error's message.
func (r *Run) Fail(ctx context.Context, cause error) error {
	if r == nil {
		return nil
	}
	return r.e.emit(ctx, r.event(eventTypeFail, cause, false))
}

// event builds one RunEvent as the spec's JSON.
func (r *Run) event(kind string, cause error, stats bool) map[string]any {
	e := r.e
	facet := func(schema string, fields map[string]any) map[string]any {
		f := map[string]any{"_producer": e.producer, "_schemaURL": schema}
		for k, v := range fields {
			f[k] = v
		}
		return f
	}
	runFacets := map[string]any{}
	if cause != nil {
		runFacets["errorMessage"] = facet(errorMessageURL, map[string]any{"message": cause.Error(), "programmingLanguage": "GO"})
	}
	run := map[string]any{"runId": r.id}
	if len(runFacets) > 0 {
		run["facets"] = runFacets
	}
	datasets := func(list []Dataset, facetKey, facetName, schema string) []any {
		out := make([]any, 0, len(list))
		for _, d := range list {
			ds := map[string]any{"namespace": d.Namespace, "name": d.Name}
			if stats && d.Rows >= 0 {
				ds[facetKey] = map[string]any{facetName: facet(schema, map[string]any{"rowCount": d.Rows})}
			}
			out = append(out, ds)
		}
		return out
	}
	return map[string]any{
		"eventType": kind,
		"eventTime": e.now().UTC().Format(time.RFC3339Nano),
		"producer":  e.producer,
		"schemaURL": SchemaURL,
		"run":       run,
		"job": map[string]any{
			"namespace": e.namespace,
			"name":      e.pipeline + "." + r.w.Table,
			"facets": map[string]any{"jobType": facet(jobTypeURL, map[string]any{
				"processingType": "BATCH", "integration": integrationInlet, "jobType": "MICRO_BATCH"})},
		},
		"inputs":  datasets(r.w.Inputs, "inputFacets", "inputStatistics", inputStatsURL),
		"outputs": datasets(r.w.Outputs, "outputFacets", "outputStatistics", outputStatsURL),
	}
}

// emit sends one event to every configured destination.
func (e *Emitter) emit(ctx context.Context, ev map[string]any) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("openlineage: %w", err)
	}
	var errs []string
	if e.file != "" {
		e.mu.Lock()
		f, err := os.OpenFile(e.file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			_, err = f.Write(append(body, '\n'))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		e.mu.Unlock()
		if err != nil {
			errs = append(errs, fmt.Sprintf("file %s: %v", e.file, err))
		}
	}
	if e.url != "" {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(rctx, http.MethodPost, e.url, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", contentTypeJSON)
			var resp *http.Response
			if resp, err = e.client.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					err = fmt.Errorf("HTTP %s", resp.Status)
				}
			}
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("POST %s: %v", e.url, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("openlineage %s event not delivered: %s", ev["eventType"], strings.Join(errs, "; "))
	}
	return nil
}

// Datasets returns the inputs (source, Kafka topic) and outputs (Delta
// table, ClickHouse mirror) of a table of pipeline c, rows unknown (-1):
// the caller fills in the window's counts.
func Datasets(c *config.Config, table string) (inputs, outputs []Dataset) {
	kafkaNS := "kafka://embedded." + c.Pipeline
	if c.Kafka != nil && len(c.Kafka.Brokers) > 0 {
		br := append([]string(nil), c.Kafka.Brokers...)
		sort.Strings(br)
		kafkaNS = "kafka://" + br[0]
	}
	for _, s := range c.Sources {
		switch {
		case s.HTTP != nil && s.Name == table:
			u := strings.SplitN(strings.SplitN(s.HTTP.URL, "?", 2)[0], "#", 2)[0]
			scheme, rest, _ := strings.Cut(u, "://")
			host, path, _ := strings.Cut(rest, "/")
			inputs = append(inputs, Dataset{Namespace: scheme + "://" + host, Name: "/" + path, Rows: -1},
				Dataset{Namespace: kafkaNS, Name: c.Pipeline + "." + s.Name, Rows: -1})
		case s.Postgres != nil:
			for _, t := range s.Postgres.Tables {
				tn := t.TableName()
				if tn.String() != table {
					continue
				}
				ns, db := postgresNamespace(s.Postgres.DSN)
				inputs = append(inputs, Dataset{Namespace: ns, Name: db + "." + tn.String(), Rows: -1},
					Dataset{Namespace: kafkaNS, Name: topicName(c.Pipeline, tn), Rows: -1})
			}
		}
	}
	if c.Lake != nil {
		if lake.IsS3(c.Lake.Path) {
			// OpenLineage names S3 datasets s3://bucket + the key prefix.
			bucket, prefix, _ := strings.Cut(strings.TrimPrefix(c.Lake.Path, "s3://"), "/")
			outputs = append(outputs, Dataset{Namespace: "s3://" + bucket, Name: strings.Trim(prefix+"/"+table, "/"), Rows: -1})
		} else if dir, err := c.Lake.Dir(); err == nil {
			outputs = append(outputs, Dataset{Namespace: "file", Name: strings.TrimRight(dir, "/") + "/" + table, Rows: -1})
		}
	}
	if ch := c.ClickHouse; ch != nil {
		outputs = append(outputs, Dataset{Namespace: "clickhouse://" + ch.Addr, Name: ch.Database + "." + mirrorName(table), Rows: -1})
	}
	return inputs, outputs
}
