package lake

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Per table gauges, refreshed by the lake sink's maintenance (every
// MaintainEvery).
var (
	tableVersion = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "inlet_lake_table_version", Help: "Latest Delta version of the lake table.",
	}, []string{"table"})
	tableFiles = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "inlet_lake_table_files", Help: "Live data files of the lake table.",
	}, []string{"table"})
	tableBytes = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "inlet_lake_table_bytes", Help: "Size of the lake table's live data files.",
	}, []string{"table"})
	tableSmallFiles = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "inlet_lake_table_small_files", Help: "Live files under half the compaction target (lake.target_file_mb).",
	}, []string{"table"})
	tableCheckpoint = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "inlet_lake_table_last_checkpoint_version", Help: "Version of the newest Delta checkpoint (-1: none).",
	}, []string{"table"})
	tableCompacted = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "inlet_lake_table_last_compaction_timestamp_seconds", Help: "When maintenance last compacted the table (Unix time).",
	}, []string{"table"})
	tableVacuumed = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "inlet_lake_table_last_vacuum_timestamp_seconds", Help: "When maintenance last deleted files of the table (Unix time).",
	}, []string{"table"})
)

// publish sets a table's gauges from its stats and a maintenance report.
func publish(name string, st TableStats, rep MaintenanceReport, now time.Time) {
	tableVersion.WithLabelValues(name).Set(float64(st.Version))
	tableFiles.WithLabelValues(name).Set(float64(st.Files))
	tableBytes.WithLabelValues(name).Set(float64(st.Bytes))
	tableSmallFiles.WithLabelValues(name).Set(float64(st.SmallFiles))
	tableCheckpoint.WithLabelValues(name).Set(float64(st.LastCheckpoint))
	if len(rep.Compacted) > 0 {
		tableCompacted.WithLabelValues(name).Set(float64(now.Unix()))
	}
	if len(rep.Vacuumed) > 0 {
		tableVacuumed.WithLabelValues(name).Set(float64(now.Unix()))
	}
}
