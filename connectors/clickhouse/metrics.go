package clickhouse

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	summaryRefreshes = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "inlet_summary_refreshes_total", Help: "Summary refreshes, by kind (partitions or full).",
	}, []string{"summary", "kind"})
	summaryPartitions = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "inlet_summary_partitions_refreshed_total", Help: "Summary partitions recomputed and swapped in.",
	}, []string{"summary"})
	summaryChecks = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "inlet_summary_checks_total", Help: "Summary checks run, by check and result.",
	}, []string{"summary", "check", "result"})
	outOfRange = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "inlet_clickhouse_out_of_range_total", Help: "Values a mirror column's type cannot hold (clamped, nulled or failed per clickhouse.out_of_range), by table and column.",
	}, []string{"table", "column"})
)
