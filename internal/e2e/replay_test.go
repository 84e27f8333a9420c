package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"context"

	"github.com/inlet-dev/inlet/checkpoint"
)

// mustReplay fails unless a replay re-materialized a good share of records.
func mustReplay(t *testing.T, out string) {
	t.Helper()
	m := regexp.MustCompile(`replayed (\d+) records`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no replay summary in:\n%s", out)
	}
	if n, _ := strconv.Atoi(m[1]); n < 1000 {
		t.Errorf("replay re-read only %d records:\n%s", n, out)
	}
}

func (e *env) inlet(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(inletBin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("inlet %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// lakeDigest lists (partition, offset, op, version) of every lake row, via
// DuckDB, so two states of the lake can be compared exactly.
func (e *env) lakeDigest(t *testing.T) map[string]string {
	t.Helper()
	db := duck(t)
	out := map[string]string{}
	for _, s := range specs {
		files, _ := lakeFiles(t, filepath.Join(e.lakeDir, s.lake))
		rows, err := db.Query("SELECT _kafka_partition, _kafka_offset, _op, _version, id FROM " + parquetList(files) + " ORDER BY 1, 2")
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for rows.Next() {
			var p int32
			var off, ver, id int64
			var op string
			rows.Scan(&p, &off, &op, &ver, &id)
			fmt.Fprintf(&b, "%d/%d/%s/%d/%d\n", p, off, op, ver, id)
		}
		rows.Close()
		out[s.lake] = b.String()
	}
	return out
}

// TestReplayAndRebuild rewinds each sink to an early checkpoint and
// rebuilds ClickHouse from the lake; every result equals the original.
func TestReplayAndRebuild(t *testing.T) {
	e := setup(t)
	e.workld.preload(t, e.conn, preload)
	p := startInlet(t, e.cfg, e.log)
	e.waitSnapshot(t, p)
	e.workld.run(t, e.conn,
		map[string]int{"public.all_types": 3000, "sales.customers": 1000, "public.docs": 1000},
		map[string]int{"public.all_types": 800, "sales.customers": 300, "public.docs": 500},
		map[string]int{"public.all_types": 200, "sales.customers": 100, "public.docs": 100}, nil)
	e.waitCaughtUp(t, p, 3*time.Minute)
	p.stop(t, syscall.SIGTERM)
	before := e.lakeDigest(t)
	e.finalChecks(t)

	list := e.inlet(t, "checkpoints", "-c", e.cfg)
	store, _ := checkpoint.OpenFile(filepath.Join(e.dir, "state", "checkpoints"))
	hist, _ := store.History(context.Background(), "clickhouse")
	if len(hist) < 3 {
		t.Fatalf("want at least 3 clickhouse checkpoints to replay from, have %d:\n%s", len(hist), list)
	}

	t.Run("clickhouse from id", func(t *testing.T) {
		mustReplay(t, e.inlet(t, "replay", "-c", e.cfg, "--sink", "clickhouse", "--from", "1"))
		if d := e.compareCH(t); d != "" {
			t.Errorf("after replay:\n%s", d)
		}
	})
	t.Run("lake from id", func(t *testing.T) {
		out := e.inlet(t, "replay", "-c", e.cfg, "--sink", "lake", "--from", "2")
		mustReplay(t, out)
		// Checkpoint 2 comes after the snapshot batch: tables rewind to a
		// real version, not to empty.
		if !regexp.MustCompile(`rewound to version [0-9]+ `).MatchString(out) {
			t.Errorf("no table rewound to a version at or after the snapshot:\n%s", out)
		}
		after := e.lakeDigest(t)
		for tb, d := range before {
			if after[tb] != d {
				t.Errorf("lake %s differs after replay (%d vs %d bytes of digest)", tb, len(after[tb]), len(d))
			}
		}
	})
	t.Run("all from time", func(t *testing.T) {
		mustReplay(t, e.inlet(t, "replay", "-c", e.cfg, "--sink", "all", "--from", hist[1].Time.Format(time.RFC3339Nano)))
		if d := e.compareCH(t); d != "" {
			t.Errorf("after replay:\n%s", d)
		}
		after := e.lakeDigest(t)
		for tb, d := range before {
			if after[tb] != d {
				t.Errorf("lake %s differs after replay", tb)
			}
		}
	})
	t.Run("rebuild clickhouse from lake", func(t *testing.T) {
		for _, s := range specs {
			if err := e.chConn.Exec(context.Background(), "DROP TABLE shop."+s.ch); err != nil {
				t.Fatal(err)
			}
		}
		out := e.inlet(t, "rebuild", "-c", e.cfg, "--sink", "clickhouse", "--from-lake")
		if m := regexp.MustCompile(`rebuilt public.all_types from (\d+) lake changes`).FindStringSubmatch(out); m == nil || m[1] == "0" {
			t.Errorf("rebuild read no lake rows:\n%s", out)
		}
		if d := e.compareCH(t); d != "" {
			t.Errorf("after rebuild:\n%s", d)
		}
	})
	e.finalChecks(t)

	// The pipeline carries on from where replay and rebuild left it.
	p = startInlet(t, e.cfg, e.log)
	e.workld.run(t, e.conn, map[string]int{"public.all_types": 200, "sales.customers": 50, "public.docs": 50},
		map[string]int{"public.docs": 100}, map[string]int{"sales.customers": 20}, nil)
	e.waitCaughtUp(t, p, 2*time.Minute)
	p.stop(t, syscall.SIGTERM)
	e.finalChecks(t)
}
