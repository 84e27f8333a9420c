package statuspage

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/connectors/clickhouse"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/lake"
)

// details is what the collector last found of one pipeline's tables.
type details struct {
	At        time.Time
	Lake      map[string]lakeDetail // by source table name
	LakeErr   string
	Mirrors   map[string]clickhouse.MirrorInfo // by source table name
	Summaries map[string]clickhouse.SummaryInfo
	CHErr     string
	CHAt      time.Time // when ClickHouse last answered
}

type lakeDetail struct {
	Where     string
	Version   int64
	Rows      int64
	Files     int
	Committed time.Time // the latest commit's time
	Schema    *change.Schema
}

// collector refreshes one pipeline's details in the background.
type collector struct {
	cfg    *config.Config
	tables []string // source table names

	lk *lake.Lake
	ch *clickhouse.Sink

	mu  sync.Mutex
	cur *details
}

// Every is how often the collector refreshes; Timeout bounds each query.
const (
	collectEvery   = 3 * time.Second
	collectTimeout = 2 * time.Second
)

func (c *collector) get() *details {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

// run refreshes the lake and ClickHouse details in two loops, so a
// ClickHouse that does not answer never delays the lake's.
func (c *collector) run(ctx context.Context) {
	c.mu.Lock()
	c.cur = &details{Lake: map[string]lakeDetail{}, Mirrors: map[string]clickhouse.MirrorInfo{}, Summaries: map[string]clickhouse.SummaryInfo{}}
	c.mu.Unlock()
	if c.cfg.Lake != nil {
		go every(ctx, c.lakeOnce)
	}
	if c.cfg.ClickHouse != nil {
		go func() {
			every(ctx, c.clickHouseOnce)
			if c.ch != nil {
				c.ch.Close()
			}
		}()
	}
}

// every calls fn now and every collectEvery until ctx ends.
func every(ctx context.Context, fn func(context.Context)) {
	t := time.NewTicker(collectEvery)
	defer t.Stop()
	for {
		fn(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// update replaces the current details with a copy changed by fn.
func (c *collector) update(fn func(d *details)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := *c.cur
	fn(&d)
	d.At = time.Now()
	c.cur = &d
}

func (c *collector) lakeOnce(ctx context.Context) {
	d := &details{Lake: map[string]lakeDetail{}}
	err := c.collectLake(d)
	c.update(func(cur *details) {
		cur.Lake, cur.LakeErr = d.Lake, ""
		if err != nil {
			cur.LakeErr = err.Error()
		}
	})
}

func (c *collector) clickHouseOnce(ctx context.Context) {
	d := &details{Mirrors: map[string]clickhouse.MirrorInfo{}, Summaries: map[string]clickhouse.SummaryInfo{}}
	if err := c.collectClickHouse(ctx, d); err != nil {
		if c.ch != nil { // a timed-out connection may be unusable: reconnect next time
			c.ch.Close()
			c.ch = nil
		}
		// Keep what ClickHouse said last, marked by CHAt.
		c.update(func(cur *details) { cur.CHErr = err.Error() })
		return
	}
	c.update(func(cur *details) {
		cur.Mirrors, cur.Summaries, cur.CHErr, cur.CHAt = d.Mirrors, d.Summaries, "", time.Now()
	})
}

func (c *collector) collectLake(d *details) error {
	if c.lk == nil {
		if !lake.IsS3(c.cfg.Lake.Path) {
			dir, err := c.cfg.Lake.Dir()
			if err != nil {
				return err
			}
			if _, err := os.Stat(dir); err != nil {
				return fmt.Errorf("lake %s: %w", dir, err)
			}
		}
		lk, err := c.cfg.Lake.Open(context.Background(), c.cfg.Pipeline, lake.Options{})
		if err != nil {
			return err
		}
		c.lk = lk
	}
	for _, name := range c.tables {
		t, err := c.lk.Table(name)
		if err != nil {
			return err
		}
		if err := t.Follow(); err != nil {
			return err
		}
		ld := lakeDetail{Where: t.Dir(), Version: t.Version(), Rows: t.Rows(), Files: len(t.Files())}
		if ld.Version >= 0 {
			if mt, err := t.CommitTime(ld.Version); err == nil {
				ld.Committed = mt.UTC()
			}
			ld.Schema = t.Schema()
		}
		d.Lake[name] = ld
	}
	return nil
}

func (c *collector) collectClickHouse(ctx context.Context, d *details) error {
	if c.ch == nil {
		octx, cancel := context.WithTimeout(ctx, collectTimeout)
		s, err := clickhouse.Open(octx, c.cfg.ClickHouse, slog.New(slog.NewTextHandler(io.Discard, nil)))
		cancel()
		if err != nil {
			return err
		}
		c.ch = s
	}
	for _, name := range c.tables {
		qctx, cancel := context.WithTimeout(ctx, collectTimeout)
		mi, err := c.ch.Mirror(qctx, name)
		cancel()
		if err != nil {
			return fmt.Errorf("clickhouse mirror of %s: %w", name, err)
		}
		d.Mirrors[name] = mi
	}
	qctx, cancel := context.WithTimeout(ctx, collectTimeout)
	infos, err := c.ch.Summaries(qctx)
	cancel()
	if err != nil {
		return fmt.Errorf("clickhouse summaries: %w", err)
	}
	for _, s := range infos {
		d.Summaries[s.Name] = s
	}
	return nil
}
