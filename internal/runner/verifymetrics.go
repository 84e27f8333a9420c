package runner

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/inlet-dev/inlet/internal/verify"
)

// verifyCollector exports the latest `inlet verify` result of each table
// (state_dir/verify.json, read at each scrape: one small file) as
// metrics: when it ran, whether it passed, the rows each store held, and
// the rows that drifted per sink and kind.
type verifyCollector struct{ dir string }

var (
	verifyAtDesc = prometheus.NewDesc("inlet_verify_last_run_timestamp_seconds",
		"When inlet verify last checked the table (Unix seconds).", []string{"table"}, nil)
	verifyOKDesc = prometheus.NewDesc("inlet_verify_ok",
		"1 when the table's latest inlet verify found no drift, 0 otherwise.", []string{"table"}, nil)
	verifyRowsDesc = prometheus.NewDesc("inlet_verify_rows",
		"Rows each store held at the table's latest inlet verify (store: postgres, clickhouse, lake).", []string{"table", "store"}, nil)
	verifyDriftDesc = prometheus.NewDesc("inlet_verify_drift_rows",
		"Rows that drifted at the table's latest inlet verify, per sink and kind (missing, extra, different).", []string{"table", "sink", "kind"}, nil)
)

func (v verifyCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- verifyAtDesc
	ch <- verifyOKDesc
	ch <- verifyRowsDesc
	ch <- verifyDriftDesc
}

func (v verifyCollector) Collect(ch chan<- prometheus.Metric) {
	all, err := verify.ReadLatest(v.dir)
	if err != nil {
		return
	}
	for t, l := range all {
		ch <- prometheus.MustNewConstMetric(verifyAtDesc, prometheus.GaugeValue, float64(l.At.UnixNano())/float64(time.Second), t)
		ok := 0.0
		if l.OK {
			ok = 1
		}
		ch <- prometheus.MustNewConstMetric(verifyOKDesc, prometheus.GaugeValue, ok, t)
		for store, n := range map[string]int64{"postgres": l.Postgres, "clickhouse": l.ClickHouse, "lake": l.Lake} {
			if n >= 0 {
				ch <- prometheus.MustNewConstMetric(verifyRowsDesc, prometheus.GaugeValue, float64(n), t, store)
			}
		}
		for _, d := range l.Drift {
			ch <- prometheus.MustNewConstMetric(verifyDriftDesc, prometheus.GaugeValue, float64(d.Rows), t, d.Sink, d.Kind)
		}
	}
}

// registerVerifyMetrics exports dir's verify results on /metrics.
func registerVerifyMetrics(dir string) {
	err := prometheus.Register(verifyCollector{dir: dir})
	var are prometheus.AlreadyRegisteredError
	if err != nil && !errors.As(err, &are) {
		panic(err)
	}
}
