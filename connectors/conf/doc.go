// Package conf is the vocabulary connectors' config types share: durations
// written as "500ms" or "7d", schema-qualified table names, TLS, the table
// modes, and Checker, the interface a connector's Validate reports to.
//
// The flow: internal/config parses a pipeline file into its sections, each
// of them a type its connector owns (postgres.Config, httpapi.Config,
// clickhouse.Config, lake.Config). It fills each section's defaults and
// asks it to validate itself through a Checker, which turns a problem at a
// key path into "file:line: path: message". Only checks that span
// sections (a summary naming a captured table) stay in internal/config.
package conf
