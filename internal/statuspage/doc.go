// Package statuspage serves Inlet's status page: the pipeline graph from
// internal/lineage, each node coloured by health (ok, lagging, failing,
// stale) with its lag, last commit, freshness, row counts, summary checks
// and open incidents, and pages per table, for incidents and for
// checkpoints. Everything it serves is embedded in the binary (no CDN):
// one HTML shell, a small hand-written script that draws the graph as SVG
// and polls /api/status every 1.5 s, and a stylesheet that works on a
// phone.
//
// Health comes from what the pipeline knows of itself, never from probing
// the systems on the request path:
//
//	sinks      engine.SinkStatus: retrying, failed or stalled (records
//	           wait, no commit for StallAfter) → the sink's nodes
//	           failing; catching up or far behind → lagging; a
//	           quarantined table → that table's nodes in that sink failing
//	sources    the health registry (inlet run) and open incidents: a
//	           source not ready → its nodes failing
//	summaries  the latest summary checks: a failed check → failing
//	pipeline   a status report older than a few seconds → every node
//	           stale (the process is not running), but for nodes another
//	           running pipeline shares
//
// Then impact: every node downstream (lineage.Graph.Downstream) of a
// failing or lagging node that is not itself in trouble is stale, with
// the upstream reason.
//
// Row counts, lake versions, ClickHouse mirrors and summary checks cost a
// query or a log read; a background collector refreshes them every few
// seconds with short timeouts, so a frozen ClickHouse never blocks the
// page.
//
// `inlet run --http ADDR` serves the page for its own pipeline from live
// state; `inlet serve -c a.yaml -c b.yaml --http ADDR` serves several
// pipelines read-only from their state dirs (status.json, the incident
// journal, the checkpoint store).
package statuspage
