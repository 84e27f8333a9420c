package engine

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestCountsRing: rows in and out per op, duplicates, and the per-minute
// ring of the last hour, which forgets minutes older than an hour.
func TestCountsRing(t *testing.T) {
	var c counters
	t0 := time.Date(2026, 3, 4, 10, 0, 30, 0, time.UTC)
	c.record("lake", "public.t", map[string]int64{"c": 3, "u": 1}, 4, 2, t0)
	c.record("lake", "public.t", map[string]int64{"d": 1}, 1, 0, t0.Add(time.Minute))
	c.record("clickhouse", "public.t", map[string]int64{"c": 2}, 1, 0, t0.Add(2*time.Minute)) // wrote another number than it took
	got := c.snapshot(t0.Add(2 * time.Minute))[0]
	if d := cmp.Diff(map[string]int64{"c": 5, "u": 1, "d": 1}, got.In); d != "" {
		t.Errorf("in (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]int64{"c": 3, "u": 1, "d": 1, "all": 1}, got.Out); d != "" {
		t.Errorf("out (-want +got):\n%s", d)
	}
	if got.Skipped != 2 || got.LastHour() != 6 || len(got.PerMinute) != ThroughputMinutes {
		t.Errorf("skipped %d, last hour %d, minutes %d", got.Skipped, got.LastHour(), len(got.PerMinute))
	}
	if pm := got.PerMinute[ThroughputMinutes-3:]; !cmp.Equal(pm, []int64{4, 1, 1}) {
		t.Errorf("last three minutes %v, want [4 1 1]", pm)
	}
	// An hour later the first minute has left the ring; a new batch in
	// its slot starts from zero.
	later := t0.Add(time.Hour)
	if n := c.snapshot(later)[0].LastHour(); n != 2 {
		t.Errorf("an hour later the last hour holds %d, want 2", n)
	}
	c.record("lake", "public.t", map[string]int64{"c": 7}, 7, 0, later)
	if pm := c.snapshot(later)[0].PerMinute; pm[ThroughputMinutes-1] != 7 {
		t.Errorf("current minute %d, want 7", pm[ThroughputMinutes-1])
	}
}
