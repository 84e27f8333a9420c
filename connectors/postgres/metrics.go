package postgres

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Snapshot progress per table, the same numbers as inlet status and the
// live bars.
var (
	snapshotRows = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "inlet_snapshot_rows", Help: "Rows of the table's snapshot sent so far (this and earlier runs).",
	}, []string{"source", "table"})
	snapshotEstimated = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "inlet_snapshot_estimated_rows", Help: "Estimated rows of the table (pg_class.reltuples when its snapshot started).",
	}, []string{"source", "table"})
	snapshotDone = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "inlet_snapshot_done", Help: "1 once the table's snapshot is sent completely.",
	}, []string{"source", "table"})
)
