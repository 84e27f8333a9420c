package verify

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/inlet-dev/inlet/change"
)

// position writes a heartbeat message, as the source does, and returns its
// LSN: every change committed before it is below it, and it gives the
// source a transaction to commit and confirm even when the captured
// tables are idle. Without the right to write one, the current WAL
// position (the source's own heartbeats then move the slot past it).
func position(ctx context.Context, conn *pgx.Conn) (pglogrepl.LSN, error) {
	var s string
	err := conn.QueryRow(ctx, "SELECT pg_logical_emit_message(true, 'inlet_heartbeat', '')::text").Scan(&s)
	if err != nil {
		if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&s); err != nil {
			return 0, fmt.Errorf("postgres: current WAL position: %w", err)
		}
	}
	return pglogrepl.ParseLSN(s)
}

// waitPast waits until the pipeline has passed lsn for table t, and reads
// the lake (readLake) once it has. First the slot must have confirmed
// lsn: Kafka then holds every change below it. Then each sink must have
// applied every change of t's topic below lsn, which it shows in one of
// two ways:
//
//   - it holds a change of t at or above lsn (changes of one partition are
//     applied in order, a batch's rows of one table in one insert or one
//     log commit): ClickHouse's max(_version), the highest _version of
//     the lake changes readLake read; only with one partition per topic
//     (the embedded broker's, and kafka.partitions' default); or
//   - its checkpointed offsets of t's topic have not moved for Settle
//     after the slot confirmed lsn: the engine, which cuts a batch at
//     least every batch_wait, found nothing more of t to apply.
//
// It returns false when Wait ran out first (the lake is read anyway).
func (v *verifier) waitPast(ctx context.Context, conn *pgx.Conn, slot string, t *tableInfo, lsn pglogrepl.LSN, readLake func() uint64) (bool, error) {
	deadline := time.Now().Add(v.o.Wait)
	lakeRead := false
	finish := func(ok bool) (bool, error) {
		if readLake != nil && !lakeRead {
			readLake()
		}
		return ok, nil
	}
	for {
		var ok *bool
		err := conn.QueryRow(ctx, "SELECT confirmed_flush_lsn >= $1::pg_lsn FROM pg_replication_slots WHERE slot_name = $2", lsn.String(), slot).Scan(&ok)
		if err == pgx.ErrNoRows {
			return finish(false) // no slot: the pipeline never ran or was torn down
		}
		if err != nil {
			return false, fmt.Errorf("postgres: slot %s: %w", slot, err)
		}
		if ok != nil && *ok {
			break
		}
		if time.Now().After(deadline) {
			return finish(false)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return false, err
		}
	}
	topic := change.TopicName(v.c.Pipeline, t.name.Schema, t.name.Table)
	type watch struct {
		last  string
		still time.Time
		done  bool
	}
	// "Holds a change at or above lsn" proves the sink passed lsn only
	// when the topic has one partition (changes of several partitions
	// are applied in no common order).
	onePart := v.c.Kafka == nil || v.c.Kafka.Partitions == 1
	now := time.Now()
	chW := &watch{last: v.offsets(ctx, "clickhouse", topic), still: now, done: v.ch == nil}
	lkW := &watch{last: v.offsets(ctx, "lake", topic), still: now, done: readLake == nil}
	var lastLakeRead time.Time
	for {
		for name, w := range map[string]*watch{"clickhouse": chW, "lake": lkW} {
			if cur := v.offsets(ctx, name, topic); cur != w.last {
				w.last, w.still = cur, time.Now()
			}
		}
		if !chW.done {
			chW.done = time.Since(chW.still) >= v.o.Settle || (onePart && v.chPassed(ctx, t, lsn))
		}
		if !lkW.done {
			switch {
			case time.Since(lkW.still) >= v.o.Settle:
				readLake()
				lkW.done, lakeRead = true, true
			case time.Since(lastLakeRead) >= time.Second:
				// A busy table never settles: read, and keep the read if
				// it holds a change at or above lsn.
				lastLakeRead = time.Now()
				if readLake() >= uint64(lsn) && onePart {
					lkW.done, lakeRead = true, true
				}
			}
		}
		if chW.done && lkW.done {
			return finish(true)
		}
		if time.Now().After(deadline) {
			return finish(false)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return false, err
		}
	}
}

// chPassed reports whether ClickHouse holds a change of t at or above lsn.
func (v *verifier) chPassed(ctx context.Context, t *tableInfo, lsn pglogrepl.LSN) bool {
	var max uint64
	q := fmt.Sprintf("SELECT max(`_version`) FROM %s.%s", chQuote(v.c.ClickHouse.Database), chQuote(mirrorName(t.name)))
	return v.ch.QueryRow(ctx, q).Scan(&max) == nil && max >= uint64(lsn)
}

// offsets renders a sink's checkpointed next offsets of topic as
// "p=next,…", "" when it has none.
func (v *verifier) offsets(ctx context.Context, sink, topic string) string {
	if v.o.Store == nil {
		return ""
	}
	b, ok, err := v.o.Store.Latest(ctx, sink)
	if err != nil || !ok {
		return ""
	}
	var parts []string
	for _, o := range b.Offsets {
		if o.Topic == topic {
			parts = append(parts, fmt.Sprintf("%d=%d", o.Partition, o.Next))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
