package engine

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	batchesCommitted = promauto.NewCounter(prometheus.CounterOpts{
		Name: "inlet_engine_batches_total", Help: "Micro-batches committed to every sink.",
	})
	rowsWritten = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "inlet_engine_rows_written_total", Help: "Rows written per sink (lake change rows, ClickHouse mirror rows).",
	}, []string{"sink"})
	batchSeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "inlet_engine_batch_seconds", Help: "Time to write and commit one micro-batch to every sink.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
	})
	incidents = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "inlet_engine_incidents_total", Help: "Failed batch attempts (retried) and permanent failures.",
	}, []string{"kind"})
	duplicatesSkipped = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "inlet_engine_duplicates_skipped_total", Help: "Records a sink skipped because it already held their source change (same source order published twice).",
	}, []string{"sink"})
)
