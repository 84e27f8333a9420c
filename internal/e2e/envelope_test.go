package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/inlet-dev/inlet/change"
)

// TestBinaryEnvelopeSwitch: a pipeline snapshots in the JSON envelope,
// is restarted with kafka.envelope: binary, and streams the whole
// workload (every mapped type, TOAST, updates, deletes) in binary; the
// change topics then hold both formats in one partition. Postgres →
// embedded broker → lake + ClickHouse end equal row by row, and a replay
// of ClickHouse from the first checkpoint (which reads both formats
// again) does too. A truncated binary record then stops the engine with
// an error naming its topic, partition, offset and
// column, and inlet stops.
func TestBinaryEnvelopeSwitch(t *testing.T) {
	e := setup(t)
	// JSON is the embedded broker's format only when asked for.
	jsonCfg := string(mustRead(t, e.cfg)) + "kafka:\n  envelope: json\n"
	if err := os.WriteFile(e.cfg, []byte(jsonCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	e.workld.preload(t, e.conn, preload)
	p := startInlet(t, e.cfg, e.log)
	e.waitSnapshot(t, p)
	p.stop(t, syscall.SIGTERM)

	cfg := strings.Replace(jsonCfg, "envelope: json", "envelope: binary", 1)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	binLog := filepath.Join(e.dir, "inlet-binary.log") // the broker address of this run
	p = startInlet(t, e.cfg, binLog)
	e.workld.run(t, e.conn, inserts, updates, deletes, nil)
	e.waitCaughtUp(t, p, 3*time.Minute)

	// The topics hold the snapshot in JSON and the stream in binary.
	addr := brokerAddr(t, binLog)
	counts := map[string]int{}
	topics := []string{"shop.public.all_types", "shop.sales.customers", "shop.public.docs"}
	var sample *kgo.Record
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, n := range e.workld.changes {
		want += n
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	for counts["json"]+counts["binary"] < want && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			format := "json"
			for _, h := range r.Headers {
				if h.Key == change.HeaderFormat && string(h.Value) == change.FormatBinary {
					format = "binary"
				}
			}
			if (format == "binary") != (r.Value[0] == change.BinaryV1) {
				t.Errorf("%s offset %d: header says %s, first byte 0x%02x", r.Topic, r.Offset, format, r.Value[0])
			}
			counts[format]++
			if format == "binary" && r.Topic == "shop.public.docs" && sample == nil {
				sample = r
			}
		})
	}
	cancel()
	cl.Close()
	t.Logf("records by format: %v (changes %d)", counts, want)
	snap := 0
	for _, n := range preload {
		snap += n
	}
	if counts["json"] != snap || counts["binary"] < want-snap {
		t.Errorf("records by format %v: want the %d snapshot rows in json and the rest in binary", counts, snap)
	}
	p.stop(t, syscall.SIGTERM)
	e.finalChecks(t)

	t.Run("replay reads both formats", func(t *testing.T) {
		mustReplay(t, e.inlet(t, "replay", "-c", e.cfg, "--sink", "clickhouse", "--from", "1"))
		if d := e.compareCH(t); d != "" {
			t.Errorf("after replay:\n%s", d)
		}
	})

	t.Run("truncated binary record", func(t *testing.T) {
		if sample == nil {
			t.Fatal("no binary record of shop.public.docs seen")
		}
		logPath := filepath.Join(e.dir, "inlet-bad.log")
		p := startInlet(t, e.cfg, logPath)
		deadline := time.Now().Add(time.Minute)
		for !strings.Contains(string(mustRead(t, logPath)), "embedded kafka started") {
			if time.Now().After(deadline) {
				t.Fatalf("no broker address; log:\n%s", tailFile(logPath, 20))
			}
			time.Sleep(100 * time.Millisecond)
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokerAddr(t, logPath)))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		bad := &kgo.Record{Topic: sample.Topic, Partition: sample.Partition, Key: sample.Key, Headers: sample.Headers,
			Value: sample.Value[:len(sample.Value)/2]}
		res := cl.ProduceSync(context.Background(), bad)
		if err := res.FirstErr(); err != nil {
			t.Fatal(err)
		}
		off := res[0].Record.Offset
		// e.g. "topic shop.public.docs partition 0 offset 3707: decode
		// change: column public.docs.body (text): binary envelope: length
		// 6016 past the end at byte 94 of 3056 reading the after row"
		wantErr := "topic shop.public.docs partition 0 offset " + strconv.FormatInt(off, 10) + ": decode change: "
		for {
			if log := string(mustRead(t, logPath)); strings.Contains(log, wantErr) {
				i := strings.Index(log, wantErr)
				line := log[i : i+strings.IndexByte(log[i:], '\n')]
				t.Logf("error: %s", line)
				if !strings.Contains(line, "binary envelope: ") || !strings.Contains(line, "reading the after row") {
					t.Errorf("the error does not say what was wrong: %s", line)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no error naming the record (%q); log:\n%s", wantErr, tailFile(logPath, 30))
			}
			time.Sleep(200 * time.Millisecond)
		}
		// The record needs a person: inlet stops with the error.
		for {
			if err, done := p.exited(); done {
				if err == nil {
					t.Error("inlet exited 0 after a record it cannot decode")
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("inlet still running after the error; log:\n%s", tailFile(logPath, 10))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
