package postgres

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inlet-dev/inlet/internal/change"
	"github.com/inlet-dev/inlet/internal/config"
)

// snapshot copies every table inside the slot's exported snapshot and sends
// its rows as op "r" changes. Only the last batch carries a Position (the
// slot's consistent point), so a crash mid-snapshot commits nothing and the
// next start copies again with a new slot.
func (s *Source) snapshot(ctx context.Context) error {
	cc, err := s.connConfig(false)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("source %s: snapshot connection: %w", s.name, err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("source %s: begin snapshot: %w", s.name, err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET TRANSACTION SNAPSHOT '%s'", s.snapshotName)); err != nil {
		return fmt.Errorf("source %s: use exported snapshot: %w", s.name, err)
	}
	var ch chunker
	ts := time.Now().UnixMilli()
	for _, ti := range s.sortedTables() {
		enc := s.encoderFor(ti.name, ti.columns)
		ch.add(enc.schemaRecord())
		start := time.Now()
		w := &copyWriter{s: s, ctx: ctx, enc: enc, ch: &ch, pos: srcPos{commitLSN: uint64(s.startPos.CommitLSN), tsMs: ts, snapshot: true}}
		cols := make([]string, len(ti.columns))
		for i, c := range ti.columns {
			cols[i] = config.QuoteIdent(c.Name)
		}
		sql := fmt.Sprintf("COPY (SELECT %s FROM %s) TO STDOUT", strings.Join(cols, ", "), ti.name.Quoted())
		if _, err := conn.PgConn().CopyTo(ctx, w, sql); err != nil {
			return fmt.Errorf("source %s: copy %s: %w", s.name, ti.name, err)
		}
		if w.err != nil {
			return w.err
		}
		s.log.Info("snapshot copied table", "table", ti.name.String(), "rows", w.rows, "elapsed", time.Since(start).Round(time.Millisecond))
	}
	ch.commit(Position{SnapshotDone: true, CommitLSN: s.startPos.CommitLSN, EndLSN: s.startPos.EndLSN}.encode())
	b, _ := ch.take(true)
	if err := s.send(ctx, b); err != nil {
		return err
	}
	s.startPos.SnapshotDone = true
	return tx.Commit(ctx)
}

func (s *Source) sortedTables() []*tableInfo {
	var out []*tableInfo
	for _, t := range s.cfg.Tables {
		tn, _ := config.ParseTableName(t)
		for _, ti := range s.tables {
			if ti.name == tn {
				out = append(out, ti)
			}
		}
	}
	return out
}

func (s *Source) encoderFor(name config.TableName, cols []change.Column) *tableEnc {
	sc := &change.Schema{
		Topic: change.TopicName(s.pipeline, name.Schema, name.Table), Connector: "postgres",
		Pipeline: s.pipeline, Database: s.db, Namespace: name.Schema, Table: name.Table, Columns: cols,
	}
	sc.Seal()
	return newTableEnc(sc, s.db)
}

// copyWriter receives COPY text output and turns each row into a record.
type copyWriter struct {
	s       *Source
	ctx     context.Context
	enc     *tableEnc
	ch      *chunker
	pos     srcPos
	partial []byte
	fields  [][]byte
	scratch []byte
	cells   []cell
	rows    int64
	err     error
}

func (w *copyWriter) Write(p []byte) (int, error) {
	n := len(p)
	if len(w.partial) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			return n, nil
		}
		w.partial = append(w.partial, p[:i]...)
		if err := w.row(w.partial); err != nil {
			return 0, err
		}
		w.partial = w.partial[:0]
		p = p[i+1:]
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			break
		}
		if err := w.row(p[:i]); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	return n, nil
}

func (w *copyWriter) row(line []byte) error {
	w.fields, w.scratch = copyFields(line, w.fields, w.scratch)
	if len(w.fields) != len(w.enc.names) {
		w.err = fmt.Errorf("copy %s: row has %d fields, want %d", w.enc.schema.Name(), len(w.fields), len(w.enc.names))
		return w.err
	}
	w.cells = w.cells[:0]
	for _, f := range w.fields {
		if f == nil {
			w.cells = append(w.cells, cell{kind: 'n'})
		} else {
			w.cells = append(w.cells, cell{kind: 't', data: f})
		}
	}
	w.rows++
	w.pos.seq = uint32(w.rows)
	rec, buf, err := w.enc.encode(w.ch.room(), change.OpRead, nil, false, w.cells, w.pos, w.pos.tsMs)
	w.ch.buf = buf
	if err != nil {
		w.err = err
		return err
	}
	w.ch.add(rec)
	if len(w.ch.recs) >= chunkRecords {
		b, _ := w.ch.take(true)
		if err := w.s.send(w.ctx, b); err != nil {
			w.err = err
			return err
		}
	}
	return nil
}
