package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/internal/testenv"
)

// scaleOutConfig writes the pipeline of the scale-out tests: the e2e
// tables, an external broker at addr with 12 partitions per topic,
// checkpoints in Postgres, the lake at lakePath, engines in a consumer
// group with static membership (engine.instance_id from ${INLET_ENGINE})
// and state_dir from ${INLET_STATE}. Processes that are no engine get
// INLET_ENGINE=none.
func (e *env) scaleOutConfig(t *testing.T, addr, lakePath string) {
	t.Helper()
	t.Setenv("INLET_ENGINE", "none")
	if _, err := e.conn.Exec(context.Background(), "CREATE SCHEMA IF NOT EXISTS inlet"); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`pipeline: shop
state_dir: ${INLET_STATE}
sources:
  - name: pg
    postgres:
      dsn: %[1]q
      tables: ["public.all_types", "sales.customers", "public.docs"]
lake:
  path: %[2]q
clickhouse:
  addr: %[3]q
  database: shop
  summaries:
    - name: customers_by_country
      from: sales.customers
      dimensions: [country]
      measures: ["count() AS customers", "sum(score) AS total_score"]
      partition_by: country
      on_check_failure: stop
engine:
  batch_wait: 300ms
  consumer_group: true
  instance_id: engine-${INLET_ENGINE}
kafka:
  brokers: [%[4]q]
  partitions: 12
  compression: none
checkpoints:
  postgres:
    dsn: %[1]q
    table: inlet.checkpoints
`, e.pg.DSN("postgres"), lakePath, e.ch.Addr, addr)
	e.cfg = filepath.Join(e.dir, "pipeline.yaml")
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestScaleOut: one source process, three engine processes in a consumer
// group, 12 partitions, an external broker (`inlet broker` with a data
// dir), checkpoints in Postgres. A mixed workload runs for 60 s while a
// random engine is killed (SIGKILL) every 5–10 s and started again; after
// catching up ClickHouse's _current views equal Postgres row by row, the
// lake holds every change once, and the summary equals a direct GROUP BY.
//
// The lake is on file://; TestScaleOutS3 runs the same with it on S3.
func TestScaleOut(t *testing.T) { scaleOut(t, false) }

// TestScaleOutS3 is TestScaleOut with the lake on S3 (versitygw started by
// the harness): three engines commit to each Delta table with
// If-None-Match: *.
func TestScaleOutS3(t *testing.T) { scaleOut(t, true) }

func scaleOut(t *testing.T, s3 bool) {
	e := setup(t)
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	startBroker(t, filepath.Join(e.dir, "broker"), addr, filepath.Join(e.dir, "broker.log"))
	e.scaleOutConfig(t, addr, "file://"+e.lakeDir)
	if s3 {
		e.lakeOnS3(t)
	}
	t.Setenv("INLET_STATE", filepath.Join(e.dir, "status")) // for inlet status
	e.workld.preload(t, e.conn, preload)

	state := func(name string) []string { return []string{"INLET_STATE=" + filepath.Join(e.dir, name)} }
	src := startInletEnv(t, state("source"), e.cfg, filepath.Join(e.dir, "source.log"), "--only", "sources", "--source", "pg")
	// The topics exist once the source ran; engines started before would wait.
	engines := make([]*inletProc, 3)
	engineLog := func(i int) string { return filepath.Join(e.dir, fmt.Sprintf("engine%d.log", i)) }
	start := func(i int) {
		// A restarted engine keeps its state_dir and its instance id, as
		// a restarted container keeps its hostname.
		env := append(state(fmt.Sprintf("engine%d", i)), fmt.Sprintf("INLET_ENGINE=%d", i))
		engines[i] = startInletEnv(t, env, e.cfg, engineLog(i), "--only", "engine")
	}
	for i := range engines {
		start(i)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i := range engines {
				t.Logf("engine %d log:\n%s", i, tailFile(engineLog(i), 30))
			}
		}
	})
	e.log = engineLog(0)
	e.waitSnapshot(t, src)

	// Every engine owns some of the 12 partitions of each topic.
	deadline := time.Now().Add(time.Minute)
	for {
		for i, p := range engines {
			if err, done := p.exited(); done {
				t.Fatalf("engine %d exited (%v); log:\n%s", i, err, tailFile(p.log, 40))
			}
		}
		out, _ := execInlet("status", "-c", e.cfg)
		if owners := strings.Count(out, "\ninlet-engine/"); owners == 3 && !strings.Contains(out, "none (rebalancing)") {
			t.Logf("inlet status, three engines:\n%s", groupSection(out))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("three engines do not share the partitions after 1m:\n%s", out)
		}
		time.Sleep(time.Second)
	}

	bg := startBackgroundWorkload(e.pg.Connect(t, "postgres"), e.workld)
	rng := rand.New(rand.NewPCG(7, 13))
	end := time.Now().Add(60 * time.Second)
	kills := 0
	for time.Now().Before(end) {
		time.Sleep(time.Duration(5000+rng.IntN(5000)) * time.Millisecond)
		if err, done := src.exited(); done {
			t.Fatalf("source exited (%v); log:\n%s", err, tailFile(src.log, 40))
		}
		i := rng.IntN(len(engines))
		for j, p := range engines {
			if err, done := p.exited(); done && j != i {
				t.Fatalf("engine %d exited (%v); log:\n%s", j, err, tailFile(p.log, 40))
			}
		}
		engines[i].stop(t, syscall.SIGKILL)
		kills++
		start(i)
	}
	bg.finish(t)
	t.Logf("workload committed %d changes: %v; %d engines killed", e.workld.totalChanges(), e.workld.changes, kills)
	e.waitCaughtUp(t, src, 3*time.Minute)
	out, _ := execInlet("status", "-c", e.cfg)
	t.Logf("inlet status after the run:\n%s", groupSection(out))
	for i, p := range engines {
		if err, done := p.exited(); done {
			t.Fatalf("engine %d exited (%v); log:\n%s", i, err, tailFile(p.log, 40))
		}
		p.stop(t, syscall.SIGTERM)
	}
	src.stop(t, syscall.SIGTERM)
	e.finalChecks(t)
	handoffs, takes := 0, 0
	for i := range engines {
		log := string(mustRead(t, engineLog(i)))
		handoffs += strings.Count(log, "engine gave up partitions")
		takes += strings.Count(log, "engine took partitions")
	}
	// A killed engine gives nothing up; its restart takes its partitions.
	t.Logf("partition handoffs logged by engines: %d given up, %d taken", handoffs, takes)
}

// groupSection is the consumer group part of inlet status.
func groupSection(out string) string {
	i := strings.Index(out, "ENGINE (group")
	if i < 0 {
		return out
	}
	rest := out[i:]
	if j := strings.Index(rest, "\n\n"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// TestSourceCopyFenced: a second copy of a running source (`inlet run
// --only sources --source pg` twice) takes over its Kafka transactional
// id; the first copy's next commit is fenced and it stops for good with a
// message naming the fix, the second takes over the slot, and every change
// still arrives once. The two never both publish: the fenced one cannot
// commit, and it does not reconnect (which would fence the other back).
func TestSourceCopyFenced(t *testing.T) {
	e := setup(t)
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	startBroker(t, filepath.Join(e.dir, "broker"), addr, filepath.Join(e.dir, "broker.log"))
	e.scaleOutConfig(t, addr, "file://"+e.lakeDir)
	e.workld.preload(t, e.conn, preload)
	state := func(name string) []string { return []string{"INLET_STATE=" + filepath.Join(e.dir, name)} }
	first := startInletEnv(t, state("source1"), e.cfg, filepath.Join(e.dir, "source1.log"), "--only", "sources", "--source", "pg")
	eng := startInletEnv(t, state("engine"), e.cfg, filepath.Join(e.dir, "engine.log"), "--only", "engine")
	e.log = eng.log
	e.waitSnapshot(t, first)

	bg := startBackgroundWorkload(e.pg.Connect(t, "postgres"), e.workld)
	time.Sleep(3 * time.Second)
	second := startInletEnv(t, state("source2"), e.cfg, filepath.Join(e.dir, "source2.log"), "--only", "sources", "--source", "pg")
	select {
	case err := <-first.done:
		first.done <- err
		if err == nil {
			t.Fatalf("the fenced source exited cleanly; log:\n%s", tailFile(first.log, 20))
		}
	case <-time.After(time.Minute):
		t.Fatalf("the first copy still runs a minute after the second started; log:\n%s", tailFile(first.log, 20))
	}
	if log := string(mustRead(t, first.log)); !strings.Contains(log, "took over its Kafka transactional id") {
		t.Errorf("the fenced copy does not say why it stopped; log:\n%s", tailFile(first.log, 20))
	}
	checkRefusedWhileEnginesRun(t, e.cfg, filepath.Join(e.dir, "replay"))
	time.Sleep(5 * time.Second)
	bg.finish(t)
	t.Logf("workload committed %d changes", e.workld.totalChanges())
	e.waitCaughtUp(t, second, 3*time.Minute)
	if err, done := eng.exited(); done {
		t.Fatalf("engine exited (%v)", err)
	}
	eng.stop(t, syscall.SIGTERM)
	second.stop(t, syscall.SIGTERM)
	e.finalChecks(t)
}
