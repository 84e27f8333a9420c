package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// CheckResult is one data check of a summary after a refresh.
type CheckResult struct {
	At         time.Time
	Summary    string
	Check      string // unique_dimensions | matches_mirror
	Partitions uint32 // 0: every partition
	OK         bool
	Detail     string
}

// checkSummary verifies the given partitions of a summary (nil: all):
// its dimension key is unique, and its rows equal the same GROUP BY run
// directly over the mirror's FINAL view — another read path than the
// refresh's, so a wrong refresh shows. Results go to _inlet_checks; a
// failure is an incident, and ErrSummaryCheck when the summary says stop.
func (s *Sink) checkSummary(ctx context.Context, sm *summary, parts []string) error {
	d := sm.def
	in, stored := "1", "1"
	if parts != nil {
		in, stored = d.partIn(parts), d.storedPartIn(parts)
	}
	var results []CheckResult
	now := time.Now().UTC().Truncate(time.Second)

	var dups uint64
	q := fmt.Sprintf("SELECT count() FROM (SELECT count() AS `_inlet_n` FROM %s.%s WHERE %s GROUP BY %s HAVING `_inlet_n` > 1)",
		quote(s.db), quote(d.cfg.Name), stored, d.groupBy())
	if err := s.conn.QueryRow(ctx, q).Scan(&dups); err != nil {
		return fmt.Errorf("clickhouse: summary %s: uniqueness check: %w", d.cfg.Name, err)
	}
	r := CheckResult{At: now, Summary: d.cfg.Name, Check: "unique_dimensions", Partitions: uint32(len(parts)), OK: dups == 0}
	if dups > 0 {
		r.Detail = fmt.Sprintf("%d dimension values appear more than once", dups)
	}
	results = append(results, r)

	fp := d.fingerprint()
	var gotN, wantN, gotH, wantH uint64
	q = fmt.Sprintf("SELECT count(), sum(%s) FROM %s.%s WHERE %s", fp, quote(s.db), quote(d.cfg.Name), stored)
	if err := s.conn.QueryRow(ctx, q).Scan(&gotN, &gotH); err != nil {
		return fmt.Errorf("clickhouse: summary %s: compare with mirror: %w", d.cfg.Name, err)
	}
	// The direct aggregate reads the mirror with FINAL (the refresh sorts
	// versions itself), restricted to the keys in the partitions.
	src, where := s.currentView(d), d.where(false)
	if sm.byKeys(parts) {
		src = fmt.Sprintf("%s.%s FINAL", quote(s.db), quote(d.mirror))
		where = s.keysIn(sm, in) + " AND " + d.where(true)
	}
	q = fmt.Sprintf("SELECT count(), sum(%s) FROM (%s)", fp, d.aggregate(src, where+" AND "+in))
	if err := s.conn.QueryRow(ctx, q).Scan(&wantN, &wantH); err != nil {
		return fmt.Errorf("clickhouse: summary %s: direct aggregate over the mirror: %w", d.cfg.Name, err)
	}
	r = CheckResult{At: now, Summary: d.cfg.Name, Check: "matches_mirror", Partitions: uint32(len(parts)), OK: gotN == wantN && gotH == wantH}
	if !r.OK {
		r.Detail = fmt.Sprintf("summary has %d rows, a direct GROUP BY over %s_current gives %d; contents differ: %v", gotN, d.mirror, wantN, gotH != wantH)
	}
	results = append(results, r)

	if err := s.recordChecks(ctx, results); err != nil {
		return err
	}
	var failed []string
	for _, r := range results {
		res := "ok"
		if !r.OK {
			res = "failed"
		}
		summaryChecks.WithLabelValues(r.Summary, r.Check, res).Inc()
		if !r.OK {
			failed = append(failed, r.Check+": "+r.Detail)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	s.log.Error("incident: summary check failed", "summary", d.cfg.Name, "partitions", len(parts), "failures", strings.Join(failed, "; "), "on_check_failure", d.cfg.OnCheckFailure)
	if d.cfg.OnCheckFailure == "stop" {
		return fmt.Errorf("%w: %s: %s (on_check_failure: stop; see inlet status, then fix and restart, or set warn)", ErrSummaryCheck, d.cfg.Name, strings.Join(failed, "; "))
	}
	return nil
}

// fingerprint is an order-independent hash term of one summary row.
// Floating-point measures are compared at float32 precision: two correct
// sums of the same values in another order may differ in the last bits.
func (d *summaryDef) fingerprint() string {
	parts := make([]string, len(d.cols))
	for i, c := range d.cols {
		v := quote(c.name)
		if strings.Contains(c.typ, "Float") {
			v = "toFloat32(" + v + ")"
		}
		parts[i] = fmt.Sprintf("ifNull(toString(%s), '\\\\N')", v)
	}
	return "cityHash64(" + strings.Join(parts, ", ") + ")"
}

func (s *Sink) recordChecks(ctx context.Context, results []CheckResult) error {
	b, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.%s (`at`, `summary`, `check`, `partitions`, `ok`, `detail`)", quote(s.db), checksTable))
	if err != nil {
		return fmt.Errorf("clickhouse: record checks: %w", err)
	}
	for _, r := range results {
		ok := uint8(0)
		if r.OK {
			ok = 1
		}
		if err := b.Append(r.At, r.Summary, r.Check, r.Partitions, ok, r.Detail); err != nil {
			b.Abort()
			return err
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("clickhouse: record checks: %w", err)
	}
	return nil
}

// SummaryInfo describes one summary for inlet status and describe.
type SummaryInfo struct {
	Name, From, Mirror, Refresh string
	Dimensions, Measures        []string
	Where, PartitionBy          string
	Rows                        uint64
	RefreshedAt                 time.Time
	Checks                      []CheckResult // the latest of each check
	Built                       bool
}

// Summaries reports every configured summary's state from ClickHouse.
func (s *Sink) Summaries(ctx context.Context) ([]SummaryInfo, error) {
	var out []SummaryInfo
	for _, sm := range s.summaries {
		d := sm.def
		info := SummaryInfo{Name: d.cfg.Name, From: d.source, Mirror: d.mirror, Refresh: d.cfg.Refresh,
			Dimensions: d.cfg.Dimensions, Measures: d.cfg.Measures, Where: d.cfg.Where, PartitionBy: d.cfg.PartitionBy}
		rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT `rows`, `refreshed_at` FROM %s.%s FINAL WHERE `name` = ?", quote(s.db), metaTable), d.cfg.Name)
		if err == nil {
			for rows.Next() {
				rows.Scan(&info.Rows, &info.RefreshedAt)
				info.Built = true
			}
			rows.Close()
		}
		rows, err = s.conn.Query(ctx, fmt.Sprintf("SELECT `check`, argMax(`at`, `at`), argMax(`ok`, `at`), argMax(`detail`, `at`), argMax(`partitions`, `at`) FROM %s.%s WHERE `summary` = ? GROUP BY `check` ORDER BY `check`", quote(s.db), checksTable), d.cfg.Name)
		if err == nil {
			for rows.Next() {
				var r CheckResult
				var ok uint8
				rows.Scan(&r.Check, &r.At, &ok, &r.Detail, &r.Partitions)
				r.OK, r.Summary = ok == 1, d.cfg.Name
				info.Checks = append(info.Checks, r)
			}
			rows.Close()
		}
		out = append(out, info)
	}
	return out, nil
}
