package engine

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	batchesCommitted = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "inlet_engine_batches_total", Help: "Micro-batches committed, per sink.",
	}, []string{"sink"})
	batchesMerged = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "inlet_engine_batches_merged_total", Help: "Queued batches a lagging sink applied together with the one before them (merge.go), per sink.",
	}, []string{"sink"})
	rowsWritten = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "inlet_engine_rows_written_total", Help: "Rows written per sink (lake change rows, ClickHouse mirror rows).",
	}, []string{"sink"})
	batchSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name: "inlet_engine_batch_seconds", Help: "Time to write and commit one micro-batch, per sink.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
	}, []string{"sink"})
	incidents = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "inlet_engine_incidents_total", Help: "Failed batch attempts (retried) and permanent failures.",
	}, []string{"kind"})
	duplicatesSkipped = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "inlet_engine_duplicates_skipped_total", Help: "Records a sink skipped because it already held their source change (same source order published twice).",
	}, []string{"sink"})
	lagRecords = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "inlet_sink_lag_records", Help: "Records the engine has read that the sink has not committed yet.",
	}, []string{"sink"})
	quarantinedTables = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "inlet_sink_quarantined_tables", Help: "Tables the sink paused because their rows cannot be written (see inlet status).",
	}, []string{"sink"})
	partitionsOwned = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "inlet_engine_partitions_owned", Help: "Change topic partitions this engine reads (in a consumer group, those the group assigned it).",
	})
	lagSeconds = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "inlet_sink_lag_seconds", Help: "How long the sink has been behind the engine's reader (0 when caught up).",
	}, []string{"sink"})
	sinkRowsIn = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "inlet_sink_rows_in_total", Help: "Changes a sink took from committed batches, per table and op (c, u, d, r, t, marker).",
	}, []string{"sink", "table", "op"})
	sinkRowsOut = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "inlet_sink_rows_out_total", Help: "Changes a sink reports written in committed batches, per table and op (op \"all\" when it wrote another number than it took).",
	}, []string{"sink", "table", "op"})
	sinkSkipped = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "inlet_sink_duplicates_skipped_by_table_total", Help: "Records a sink skipped as already held (same source change published twice), per table.",
	}, []string{"sink", "table"})
)
