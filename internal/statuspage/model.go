package statuspage

import (
	"context"
	"time"

	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/connectors/httpapi"
	"github.com/inlet-dev/inlet/connectors/postgres"
	"github.com/inlet-dev/inlet/engine"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/internal/health"
	"github.com/inlet-dev/inlet/internal/lineage"
	"github.com/inlet-dev/inlet/internal/verify"
)

// Health is a node's colour on the page.
type Health string

// Node health, from best to worst.
const (
	OK      Health = "ok"
	Stale   Health = "stale"   // its data does not move: upstream trouble, or the pipeline is not running
	Lagging Health = "lagging" // it moves, but behind
	Failing Health = "failing"
)

var severity = map[Health]int{OK: 0, Stale: 1, Lagging: 2, Failing: 3}

// State is what a pipeline reports of itself: live from `inlet run`, or
// read from its state dir's status.json by `inlet serve`.
type State struct {
	// Updated is when the state was taken; Started when the process
	// started (zero: unknown).
	Updated time.Time
	Started time.Time
	// Running is false when no process reports for the pipeline; Reason
	// says why.
	Running bool
	Reason  string
	Sinks   []engine.SinkStatus
	Sources []postgres.Status
	HTTP    []httpapi.Status
	// Stages is the health registry (nil when unknown: inlet serve).
	Stages []health.StageState
}

// Pipeline is one pipeline the page shows.
type Pipeline struct {
	Config *config.Config
	// State returns the pipeline's state now; it must be cheap.
	State func() State
	// OpenStore opens the pipeline's checkpoint store for reading.
	OpenStore func(ctx context.Context) (checkpoint.Store, error)
}

// NodeStatus is one lineage node as the page draws it.
type NodeStatus struct {
	lineage.Node
	// Col and Row place the node: columns sources → topics → lake and
	// ClickHouse mirrors → views → summaries.
	Col     int      `json:"col"`
	Row     int      `json:"row"`
	Health  Health   `json:"health"`
	Reasons []string `json:"reasons,omitempty"`
	// Sink is the sink that writes the node ("" for sources and topics).
	Sink       string    `json:"sink,omitempty"`
	LagRecords int64     `json:"lag_records"`
	LagSeconds float64   `json:"lag_seconds"`
	LastCommit time.Time `json:"last_commit,omitzero"`
	// Progress is a source table's snapshot or backfill progress.
	Progress string `json:"progress,omitempty"`
	// Freshness is when the node last changed, where known.
	Freshness time.Time  `json:"freshness,omitzero"`
	Rows      *int64     `json:"rows,omitempty"`
	Version   *int64     `json:"version,omitempty"`
	Files     *int       `json:"files,omitempty"`
	Checks    []Check    `json:"checks,omitempty"`
	Incidents []Incident `json:"incidents,omitempty"`
	// Throughput is the changes the node took per minute over the last
	// hour, oldest first (sink nodes: what their sink wrote; topics and
	// sources: what the first sink wrote of their table); LastHour their
	// sum. Empty before this process committed a batch of the table.
	Throughput []int64 `json:"throughput,omitempty"`
	LastHour   *int64  `json:"last_hour,omitempty"`
	// Reconcile is the node's sink's counts of its table: rows in and
	// out per op, duplicates skipped.
	Reconcile *engine.TableCounts `json:"reconcile,omitempty"`
	// Verify is the table's latest `inlet verify` result, on the lake
	// table and the ClickHouse view.
	Verify *verify.Latest `json:"verify,omitempty"`
}

// Check is a summary check's latest result.
type Check struct {
	Check  string    `json:"check"`
	At     time.Time `json:"at"`
	OK     bool      `json:"ok"`
	Detail string    `json:"detail,omitempty"`
}

// PipelineStatus is one pipeline's header on the page.
type PipelineStatus struct {
	Name    string              `json:"name"`
	File    string              `json:"file"`
	Running bool                `json:"running"`
	Reason  string              `json:"reason,omitempty"`
	Updated time.Time           `json:"updated,omitzero"`
	Started time.Time           `json:"started,omitzero"`
	Sinks   []SinkView          `json:"sinks"`
	Stages  []health.StageState `json:"stages,omitempty"`
	Open    int                 `json:"open_incidents"`
	// Escalated are the open incidents older than EscalateAfter
	// (incidents.escalate_after): the page shows them in a banner.
	Escalated     []Incident `json:"escalated,omitempty"`
	EscalateAfter string     `json:"escalate_after,omitempty"`
}

// SinkView is a sink's engine status with its health on the page.
type SinkView struct {
	engine.SinkStatus
	Health Health `json:"health"`
	Reason string `json:"reason,omitempty"`
}

// Status is /api/status.
type Status struct {
	Now       time.Time        `json:"now"`
	Pipelines []PipelineStatus `json:"pipelines"`
	Nodes     []NodeStatus     `json:"nodes"`
	Edges     []lineage.Edge   `json:"edges"`
	Counts    map[Health]int   `json:"counts"`
}
