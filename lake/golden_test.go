package lake

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"
)

// The golden table testdata/checkpoint-v1 is a checkpoint at version 3 and
// the commit after it (the commits before it are gone, as after log
// cleanup). INLET_UPDATE_GOLDEN=1 regenerates it.
const goldenCheckpoint = "testdata/checkpoint-v1"

func TestCheckpointGolden(t *testing.T) {
	if os.Getenv("INLET_UPDATE_GOLDEN") != "" {
		root := lakeRoot(t)
		l := testOpenWith(t, root, "p", Options{CheckpointInterval: 3})
		writeCommits(t, l, 0, 5, 2, hourly)
		dst := filepath.Join(goldenCheckpoint, "public.s", "_delta_log")
		os.RemoveAll(goldenCheckpoint)
		os.MkdirAll(dst, 0o755)
		for _, n := range []string{checkpointName(3), logName(4), "_last_checkpoint"} {
			b, err := os.ReadFile(filepath.Join(root, "public.s", "_delta_log", n))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dst, n), b, 0o644)
		}
	}
	tb, err := openTable(storeAt(goldenCheckpoint), "public.s")
	if err != nil {
		t.Fatal(err)
	}
	if tb.version != 4 || tb.replayed != 2 || tb.rows != 10 || tb.part != "dt" {
		t.Fatalf("version %d from %d files, %d rows, partition %q; want 4 from 2, 10, dt", tb.version, tb.replayed, tb.rows, tb.part)
	}
	if d := cmp.Diff(map[string]int64{"inlet/p/engine/p.public.s/0": 8, "inlet/p/engine/p.public.s/1": 9}, tb.txns); d != "" {
		t.Errorf("txns (-want +got):\n%s", d)
	}
	want := []string{
		"dt=2026-01-01/part-p.public.s-0-0-0.parquet", "dt=2026-01-01/part-p.public.s-0-2-2.parquet", "dt=2026-01-01/part-p.public.s-0-4-4.parquet",
		"dt=2026-01-01/part-p.public.s-0-6-6.parquet", "dt=2026-01-01/part-p.public.s-0-8-8.parquet",
		"dt=2026-01-01/part-p.public.s-1-1-1.parquet", "dt=2026-01-01/part-p.public.s-1-3-3.parquet", "dt=2026-01-01/part-p.public.s-1-5-5.parquet",
		"dt=2026-01-01/part-p.public.s-1-7-7.parquet", "dt=2026-01-01/part-p.public.s-1-9-9.parquet",
	}
	if d := cmp.Diff(want, tb.Files()); d != "" {
		t.Errorf("files (-want +got):\n%s", d)
	}
	var names []string
	for _, c := range tb.columns {
		names = append(names, c.Name)
	}
	if d := cmp.Diff([]string{"_op", "_version", "_ts", "_kafka_partition", "_kafka_offset", "_unchanged", "id", "name", "amount"}, names); d != "" {
		t.Errorf("columns (-want +got):\n%s", d)
	}
}

// TestCheckpointNewerProtocolRefused: a checkpoint of a table that needs a
// newer Delta reader is refused with that reason, not skipped for an older
// state.
func TestCheckpointNewerProtocolRefused(t *testing.T) {
	src := filepath.Join(goldenCheckpoint, "public.s", "_delta_log", checkpointName(3))
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := parquet.NewGenericReader[ckptRow](f)
	rows := make([]ckptRow, 100)
	n, err := r.Read(rows)
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	rows = rows[:n]
	for i := range rows {
		if rows[i].Protocol != nil {
			rows[i].Protocol.MinReaderVersion = 4
		}
	}
	root := lakeRoot(t)
	if _, err := writeCheckpointFile(storeAt(root), "public.s/_delta_log/"+checkpointName(3), rows); err != nil {
		t.Fatal(err)
	}
	_, err = openTable(storeAt(root), "public.s")
	if err == nil || !errors.Is(err, ErrProtocol) {
		t.Fatalf("open: %v; want ErrProtocol", err)
	}
}
