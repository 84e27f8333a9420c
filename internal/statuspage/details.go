package statuspage

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
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

func (c *collector) run(ctx context.Context) {
	defer func() {
		if c.ch != nil {
			c.ch.Close()
		}
	}()
	t := time.NewTicker(collectEvery)
	defer t.Stop()
	for {
		c.collect(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *collector) collect(ctx context.Context) {
	prev := c.get()
	d := &details{At: time.Now(), Lake: map[string]lakeDetail{}, Mirrors: map[string]clickhouse.MirrorInfo{}, Summaries: map[string]clickhouse.SummaryInfo{}}
	if c.cfg.Lake != nil {
		if err := c.collectLake(d); err != nil {
			d.LakeErr = err.Error()
		}
	}
	if c.cfg.ClickHouse != nil {
		if err := c.collectClickHouse(ctx, d); err != nil {
			d.CHErr = err.Error()
			if c.ch != nil { // a timed-out connection may be unusable: reconnect next time
				c.ch.Close()
				c.ch = nil
			}
			if prev != nil { // keep what ClickHouse said last, marked by CHAt
				d.Mirrors, d.Summaries, d.CHAt = prev.Mirrors, prev.Summaries, prev.CHAt
			}
		} else {
			d.CHAt = time.Now()
		}
	}
	c.mu.Lock()
	c.cur = d
	c.mu.Unlock()
}

func (c *collector) collectLake(d *details) error {
	if c.lk == nil {
		dir, err := config.LakeDir(c.cfg.Lake.Path)
		if err != nil {
			return err
		}
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("lake %s: %w", dir, err)
		}
		if c.lk, err = lake.Open(dir, c.cfg.Pipeline); err != nil {
			return err
		}
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
			if fi, err := os.Stat(filepath.Join(t.Dir(), "_delta_log", fmt.Sprintf("%020d.json", ld.Version))); err == nil {
				ld.Committed = fi.ModTime().UTC()
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
