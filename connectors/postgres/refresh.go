package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/robfig/cron/v3"

	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/connectors/conf"
)

// Full refresh: a full_refresh table is not in the publication; on its
// schedule the stream pauses between transactions, copies the table in
// one REPEATABLE READ transaction, and sends every row as op "r" with
// version gen (the WAL LSN when the copy started) followed by one op "f"
// marker carrying the row count. The sinks stage a generation's rows and
// swap them in only when its marker arrives, so readers see the old copy
// or the new one, never a mix. If the data hashes the same as the last
// refresh, nothing is sent (readers see no change at all).

// refreshDue returns the full_refresh tables whose time has come.
func (s *Source) refreshDue(now time.Time) []*tableInfo {
	var out []*tableInfo
	for _, tc := range s.cfg.Tables {
		if tc.Mode != conf.ModeFullRefresh {
			continue
		}
		ti := s.byName[tc.TableName()]
		last := s.refreshes[ti.name.String()]
		if last.AtMs == 0 {
			out = append(out, ti)
			continue
		}
		at := time.UnixMilli(last.AtMs)
		var next time.Time
		if tc.Schedule != "" {
			sched, err := cron.ParseStandard(tc.Schedule)
			if err != nil {
				continue // Validate rejected it already
			}
			next = sched.Next(at.UTC())
		} else {
			next = at.Add(time.Duration(tc.Interval))
		}
		if !now.Before(next) {
			out = append(out, ti)
		}
	}
	return out
}

// refresh copies one table and queues its rows and marker in ch, ending
// at a position that records the refresh. keepAlive is called while the
// copy runs so the replication connection does not time out.
func (s *Source) refresh(ctx context.Context, ch *chunker, t *tableInfo, endLSN pglogrepl.LSN, keepAlive func() error) error {
	cc, err := s.connConfig(false)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("source %s: refresh connection: %w", s.name, err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("source %s: begin refresh of %s: %w", s.name, t.name, err)
	}
	defer tx.Rollback(context.Background())
	var lsn pglogrepl.LSN
	var lsnText string
	if err := tx.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsnText); err != nil {
		return fmt.Errorf("source %s: refresh %s: %w", s.name, t.name, err)
	}
	if lsn, err = pglogrepl.ParseLSN(lsnText); err != nil {
		return err
	}
	// The catalog may have changed since Open: read the columns again.
	ti, err := loadTable(ctx, conn, s.types, t.name, s.textCols, true)
	if err != nil {
		return fmt.Errorf("source %s: %w", s.name, err)
	}
	start := time.Now()
	sql := fullCopySQL(ti)
	// Pass 1: hash. A table whose data did not change is not sent again.
	h := &hashWriter{h: sha256.New()}
	if _, err := conn.PgConn().CopyTo(ctx, h, sql); err != nil {
		return fmt.Errorf("source %s: refresh %s: %w", s.name, t.name, err)
	}
	sum := hex.EncodeToString(h.h.Sum(nil))
	prev := s.refreshes[t.name.String()]
	gen := uint64(lsn)
	if gen <= prev.Gen {
		gen = prev.Gen + 1 // versions only go up
	}
	next := RefreshState{AtMs: start.UnixMilli(), Gen: gen, Rows: h.rows, Hash: sum}
	if sum == prev.Hash && prev.Gen != 0 {
		next.Gen, next.Rows = prev.Gen, prev.Rows
		s.refreshes[t.name.String()] = next
		ch.commit(s.position(s.lastCommit, 0, endLSN))
		s.log.Info("full refresh: table unchanged, nothing sent", "table", t.name.String(), "rows", h.rows)
		return tx.Commit(ctx)
	}
	// Pass 2: send, inside the same snapshot.
	enc := s.encoderFor(t.name, ti.columns)
	ch.add(enc.schemaRecord())
	w := &copyWriter{s: s, ctx: ctx, enc: enc, ch: ch, keyIdx: keyIndexes(ti), keepAlive: keepAlive,
		pos: srcPos{commitLSN: gen, tsMs: start.UnixMilli(), snapshot: true}}
	if _, err := conn.PgConn().CopyTo(ctx, w, sql); err != nil {
		return fmt.Errorf("source %s: refresh %s: %w", s.name, t.name, err)
	}
	if w.err != nil {
		return w.err
	}
	if w.rows != h.rows {
		return fmt.Errorf("source %s: refresh %s: the two passes read %d and %d rows in one snapshot (report this)", s.name, t.name, h.rows, w.rows)
	}
	ch.add(enc.refreshMarker(ch, gen, w.rows, start.UnixMilli()))
	s.refreshes[t.name.String()] = next
	ch.commit(s.position(s.lastCommit, 0, endLSN))
	s.log.Info("full refresh copied table", "table", t.name.String(), "rows", w.rows, "gen", gen, "elapsed", time.Since(start).Round(time.Millisecond))
	return tx.Commit(ctx)
}

// fullCopySQL copies a whole table. Rows come in key order when the table
// has a key, else in physical order (same data, same bytes).
func fullCopySQL(t *tableInfo) string {
	cols := make([]string, len(t.columns))
	for i, c := range t.columns {
		cols[i] = conf.QuoteIdent(c.Name)
	}
	order := ""
	if len(t.keyCols) > 0 {
		keys := make([]string, len(t.keyCols))
		for i, k := range t.keyCols {
			keys[i] = conf.QuoteIdent(k)
		}
		order = " ORDER BY " + strings.Join(keys, ", ")
	}
	return fmt.Sprintf("COPY (SELECT %s FROM %s%s) TO STDOUT", strings.Join(cols, ", "), t.name.Quoted(), order)
}

type hashWriter struct {
	h    hash.Hash
	rows int64
}

func (w *hashWriter) Write(p []byte) (int, error) {
	for _, b := range p {
		if b == '\n' {
			w.rows++
		}
	}
	return w.h.Write(p)
}

// refreshMarker is the op "f" record that closes refresh gen of rows rows.
func (e *tableEnc) refreshMarker(ch *chunker, gen uint64, rows int64, tsMs int64) connectors.Record {
	buf := ch.room()
	v0 := len(buf)
	if e.binary {
		buf = e.binaryMarker(buf, gen, rows, tsMs, time.Now().UnixMilli())
	} else {
		buf = append(buf, `{"v":1,"op":"f","before":null,"after":null,`...)
		buf = append(buf, e.srcPrefix...)
		buf = append(buf, `"lsn":0,"commit_lsn":`...)
		buf = strconv.AppendUint(buf, gen, 10)
		buf = append(buf, `,"seq":`...)
		buf = strconv.AppendInt(buf, rows, 10)
		buf = append(buf, `,"txid":0,"ts_ms":`...)
		buf = strconv.AppendInt(buf, tsMs, 10)
		buf = append(buf, `,"snapshot":true},"ts_ms":`...)
		buf = strconv.AppendInt(buf, time.Now().UnixMilli(), 10)
		buf = append(buf, `,"schema":"`...)
		buf = append(buf, e.schema.Fingerprint...)
		buf = append(buf, '"', '}')
	}
	v1 := len(buf)
	buf = appendOrder(buf, gen, uint64(rows)+1)
	ch.buf = buf
	return connectors.Record{Topic: e.topic, Key: []byte("{}"), Value: buf[v0:v1:v1],
		Headers: e.headers(gen), Order: buf[v1:len(buf):len(buf)]}
}
