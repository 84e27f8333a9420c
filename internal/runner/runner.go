// Package runner wires a validated config into running sources and engine.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/inlet-dev/inlet/capture"
	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/connectors/conf"
	"github.com/inlet-dev/inlet/connectors/httpapi"
	"github.com/inlet-dev/inlet/connectors/postgres"
	"github.com/inlet-dev/inlet/engine"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/internal/health"
	"github.com/inlet-dev/inlet/internal/kafka"
	"github.com/inlet-dev/inlet/lake"
)

// Only selects what a process runs.
type Only string

// What to run.
const (
	All     Only = ""
	Sources Only = "sources"
	Engine  Only = "engine"
)

// Tables lists the change topics the config's sources produce.
func Tables(c *config.Config) []change.Table {
	var out []change.Table
	for _, s := range c.Sources {
		if h := s.HTTP; h != nil {
			// One stream: topic <pipeline>.<source>, lake table <source>,
			// ClickHouse table <source>.
			out = append(out, change.Table{Topic: c.Pipeline + "." + s.Name, Name: s.Name, FullRefresh: h.Mode == conf.ModeFullRefresh})
			continue
		}
		if s.Postgres == nil {
			continue
		}
		for _, t := range s.Postgres.Tables {
			tn, err := conf.ParseTableName(t.Name)
			if err != nil {
				continue
			}
			out = append(out, change.Table{Topic: change.TopicName(c.Pipeline, tn.Schema, tn.Table), Name: tn.String(),
				FullRefresh: t.Mode == conf.ModeFullRefresh})
		}
	}
	return out
}

// LockStateDir takes an exclusive lock on the state dir so two processes
// never run one pipeline's state at once. Release by closing the file.
// A lock held for a moment (inlet resume checks whether an inlet runs by
// taking it) is waited for, up to lockWait.
func LockStateDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state_dir %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "inlet.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("state_dir %s: %w", dir, err)
	}
	for deadline := time.Now().Add(lockWait); ; {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("state_dir %s is locked by another inlet process; stop it first, or give this one its own state_dir", dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.Truncate(0)
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return f, nil
}

// lockWait is how long LockStateDir waits for a lock held by another
// process before refusing.
var lockWait = 2 * time.Second

// OpenStore opens the configured checkpoint store.
func OpenStore(ctx context.Context, c *config.Config) (checkpoint.Store, error) {
	if p := c.Checkpoints.Postgres; p != nil {
		return checkpoint.OpenPostgres(ctx, p.DSN, p.Table, c.Pipeline)
	}
	return checkpoint.OpenFile(filepath.Join(c.StateDir, "checkpoints"))
}

// OpenLake opens the configured lake (validated config: the path
// parses): a local directory, or an S3 bucket, connected and probed.
func OpenLake(c *config.Config) (*lake.Lake, error) {
	o := c.Lake.Options()
	o.Retain = c.Retention()
	o.SharedWriters = c.Engine.ConsumerGroup
	return c.Lake.Open(context.Background(), c.Pipeline, o)
}

// Kafka returns the Kafka cluster to use (brokers, TLS, SASL), starting
// the embedded broker when the config has none; the returned func closes
// both. It connects once, so bad credentials or certificates stop the
// process here, naming the setting to fix.
func Kafka(ctx context.Context, c *config.Config, log *slog.Logger) (*kafka.Cluster, func(), error) {
	if c.ExternalKafka() {
		sec, err := kafka.SecurityFrom(c.Kafka)
		if err != nil {
			return nil, nil, err
		}
		cl := kafka.NewCluster(c.Kafka.Brokers, sec)
		if err := cl.Check(ctx); err != nil {
			cl.Close()
			return nil, nil, err
		}
		return cl, cl.Close, nil
	}
	dir := filepath.Join(c.StateDir, "kafka")
	_, segmentMB := c.EmbeddedBroker()
	emb, err := kafka.StartEmbedded(dir, segmentMB)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range emb.Repaired {
		log.Warn("embedded kafka: repaired the log a killed process left half written", "segment", r)
	}
	log.Info("embedded kafka started", "addr", emb.Addrs(), "data_dir", dir)
	cl := kafka.NewCluster(emb.Addrs(), kafka.Security{})
	return cl, func() { cl.Close(); emb.Close() }, nil
}

// ensureTopics creates the pipeline's topics that do not exist yet.
func ensureTopics(ctx context.Context, c *config.Config, brokers *kafka.Cluster) error {
	partitions := int32(1)
	if c.Kafka != nil {
		partitions = c.Kafka.Partitions
	}
	var topics, refreshTopics []string
	for _, t := range Tables(c) {
		if t.FullRefresh {
			// One partition: a refresh's rows and its closing marker
			// must be read in one order.
			refreshTopics = append(refreshTopics, t.Topic)
		} else {
			topics = append(topics, t.Topic)
		}
	}
	if err := kafka.EnsureTopics(ctx, brokers, partitions, topics, []string{change.OffsetsTopic(c.Pipeline), change.SchemasTopic(c.Pipeline)}); err != nil {
		return err
	}
	return kafka.EnsureTopics(ctx, brokers, 1, refreshTopics, nil)
}

// Run runs the pipeline until ctx ends or a stage fails.
//
// httpAddr, if set, serves the status page at /, /metrics, /healthz and
// /readyz. source, if set, runs only that source (with only = Sources).
func Run(ctx context.Context, c *config.Config, only Only, source, httpAddr string, log *slog.Logger) error {
	if source != "" {
		if only != Sources {
			return errors.New("--source runs one source: use it with --only sources")
		}
		found := false
		for _, s := range c.Sources {
			found = found || s.Name == source
		}
		if !found {
			return fmt.Errorf("--source %s: the config has no source named %s", source, source)
		}
	}
	lock, err := LockStateDir(c.StateDir)
	if err != nil {
		return err
	}
	defer lock.Close()
	// /readyz: every stage says whether it is ready; the process itself
	// is not until every stage is started, nor once it is stopping.
	reg := health.New()
	ready := reg.Stage("inlet")
	live := &liveState{reg: reg}
	if httpAddr != "" {
		pctx, stopPage := context.WithCancel(ctx)
		defer stopPage()
		page, err := livePage(pctx, c, live, log)
		if err != nil {
			return err
		}
		registerVerifyMetrics(c.StateDir)
		stopHTTP, err := serveHTTP(ctx, httpAddr, reg, page, log)
		if err != nil {
			return fmt.Errorf("--http %s: %w", httpAddr, err)
		}
		defer stopHTTP()
	}
	brokers, stopBroker, err := Kafka(ctx, c, log)
	if err != nil {
		return err
	}
	defer stopBroker()
	tables := Tables(c)
	if err := ensureTopics(ctx, c, brokers); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		cancel()
	}
	var published, batches atomic.Int64
	rowsBySink := &counters{}

	compression := "none" // the embedded broker is in this process
	if c.ExternalKafka() {
		compression = c.Kafka.Compression
	}
	txnSuffix := ""
	if !c.ExternalKafka() {
		txnSuffix = fmt.Sprintf("-%d", time.Now().UnixNano())
	}
	var srcs []*postgres.Source
	var hsrcs []*httpapi.Source
	tty := isTerminal(os.Stderr)
	if only == All || only == Sources {
		for _, s := range c.Sources {
			if source != "" && s.Name != source {
				continue
			}
			var src connectors.Source
			if s.HTTP != nil {
				h := httpapi.New(c.Pipeline, s.Name, s.HTTP, c.Redact, log)
				if c.Kafka.BinaryEnvelope() && c.Kafka != nil && len(c.Kafka.Brokers) > 0 {
					log.Info("HTTP sources write the JSON envelope whatever kafka.envelope says (docs/envelope.md)", "source", s.Name)
				}
				hsrcs = append(hsrcs, h)
				src = h
			} else {
				pg := postgres.New(c.Pipeline, s.Name, s.Postgres, log)
				if tty {
					pg.QuietProgress()
				}
				if c.Kafka.BinaryEnvelope() {
					pg.BinaryEnvelope()
				}
				srcs = append(srcs, pg)
				src = pg
			}
			opts := capture.Options{Kafka: brokers, Pipeline: c.Pipeline, Source: s.Name, Log: log,
				CommitEvery: time.Duration(c.Capture.CommitInterval), SplitAfter: time.Duration(c.Capture.SplitAfter), TxnIDSuffix: txnSuffix, Compression: compression,
				OnCommit: func(n int) { published.Add(int64(n)) }, Health: reg.Stage("source " + s.Name)}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := capture.Run(ctx, src, opts); err != nil && !errors.Is(err, context.Canceled) {
					fail(err)
				}
			}()
		}
	}
	var eng *engine.Engine
	if only == All || only == Engine {
		store, err := OpenStore(ctx, c)
		if err != nil {
			return err
		}
		defer store.Close()
		lineage := newLineageEvents(c, log)
		wg.Add(3)
		go func() { defer wg.Done(); lineage.run(ctx) }()
		go func() { defer wg.Done(); escalate(ctx, c, log) }()
		go func() { defer wg.Done(); pruneBookkeeping(ctx, c, store, log) }()
		sinks, err := OpenSinks(ctx, c, nil, log)
		if err != nil {
			return err
		}
		defer CloseSinks(sinks)
		if l, ok := store.(connectors.Locker); ok && c.Engine.ConsumerGroup {
			for _, s := range sinks {
				if lt, ok := s.(connectors.LockTaker); ok {
					lt.UseLocker(l)
				}
			}
		}
		opts := engine.Options{Kafka: brokers, Pipeline: c.Pipeline, Tables: tables, Store: store, Log: log, Sinks: sinks,
			Group: c.EngineGroup(), Member: Member(), InstanceID: c.Engine.InstanceID,
			BatchRecords: c.Engine.BatchRecords, BatchBytes: c.Engine.BatchBytes, BatchWait: time.Duration(c.Engine.BatchWait),
			OnBatch: func(b engine.BatchStats) {
				batches.Add(1)
				rowsBySink.add(b.Sink, int64(b.Rows))
				lineage.batch(b)
			},
			OnBatchFailed: lineage.failed}
		eng, err = engine.New(opts)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := eng.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				fail(err)
			}
		}()
		if !c.ExternalKafka() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				trimBroker(ctx, c, brokers, eng, log)
			}()
		}
	}
	live.set(srcs, hsrcs, eng)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	ready.Ready()
	defer ready.NotReady("stopping")
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	fast := time.NewTicker(time.Second)
	defer fast.Stop()
	barLines := 0
	stalls := &stallWatch{log: log}
	for {
		select {
		case <-done:
			writeStatus(c.StateDir, srcs, hsrcs, eng)
			log.Info("inlet stopped", "published", published.Load(), "batches", batches.Load(), "rows", rowsBySink.String())
			return firstErr
		case <-fast.C:
			if err := writeStatus(c.StateDir, srcs, hsrcs, eng); err != nil {
				log.Warn("cannot write status file", "err", err)
			}
			if eng != nil {
				takeResumes(c, eng, log)
				stalls.check(eng.Status(), time.Now())
			}
			if tty {
				barLines = bars(os.Stderr, srcs, barLines)
			}
		case <-tick.C:
			log.Info("progress", "published", published.Load(), "batches", batches.Load(), "rows", rowsBySink.String())
		}
	}
}

// Member names this process in the engines' consumer group: host/pid.
func Member() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("inlet-engine/%s/%d", host, os.Getpid())
}

// counters counts per name, safely from several goroutines.
type counters struct {
	mu sync.Mutex
	m  map[string]int64
}

func (c *counters) add(name string, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int64{}
	}
	c.m[name] += n
}

// String renders the counts as name=n, sorted by name.
func (c *counters) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := slices.Sorted(maps.Keys(c.m))
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", n, c.m[n])
	}
	return b.String()
}
