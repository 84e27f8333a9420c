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

// snapshot copies every table in primary-key order, chunk by chunk, and
// sends its rows as op "r" changes. Each chunk ends with a Position that
// records the progress (table, last key, rows), so the chunk and its
// progress commit to Kafka together and a restart resumes at the next
// chunk. The first run reads inside the slot's exported snapshot; a resumed
// run reads the rest from a new snapshot (rows changed since the slot's
// consistent point also arrive from the stream, with higher versions).
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
	if s.snapshotName != "" {
		if _, err := tx.Exec(ctx, fmt.Sprintf("SET TRANSACTION SNAPSHOT '%s'", s.snapshotName)); err != nil {
			return fmt.Errorf("source %s: use exported snapshot: %w", s.name, err)
		}
	}
	prog := SnapshotProgress{}
	if s.startPos.Snapshot != nil {
		prog = *s.startPos.Snapshot
	}
	chunk := s.cfg.SnapshotChunkRows
	if chunk <= 0 {
		chunk = 100_000
	}
	var ch chunker
	ts := time.Now().UnixMilli()
	tables := s.sortedTables()
	for ti := prog.Table; ti < len(tables); ti++ {
		t := tables[ti]
		enc := s.encoderFor(t.name, t.columns)
		ch.add(enc.schemaRecord())
		after, rows := []string(nil), int64(0)
		if ti == prog.Table {
			after, rows = prog.After, prog.Rows
		}
		start, lastLog, startRows := time.Now(), time.Now(), rows
		for {
			w := &copyWriter{s: s, ctx: ctx, enc: enc, ch: &ch, keyIdx: keyIndexes(t),
				pos: srcPos{commitLSN: uint64(s.startPos.CommitLSN), tsMs: ts, snapshot: true}, seq0: rows}
			if _, err := conn.PgConn().CopyTo(ctx, w, chunkSQL(t, after, chunk)); err != nil {
				return fmt.Errorf("source %s: copy %s: %w", s.name, t.name, err)
			}
			if w.err != nil {
				return w.err
			}
			rows += w.rows
			if w.rows > 0 {
				after = w.lastKey()
			}
			next := Position{CommitLSN: s.startPos.CommitLSN, EndLSN: s.startPos.EndLSN,
				Snapshot: &SnapshotProgress{Table: ti, After: after, Rows: rows}}
			done := w.rows < int64(chunk)
			if done {
				next.Snapshot = &SnapshotProgress{Table: ti + 1}
				if ti+1 == len(tables) {
					next.Snapshot, next.SnapshotDone = nil, true
				}
			}
			ch.commit(next.encode())
			if b, ok := ch.take(true); ok {
				if err := s.send(ctx, b); err != nil {
					return err
				}
			}
			if done || time.Since(lastLog) >= 5*time.Second {
				lastLog = time.Now()
				s.logProgress(t, rows, rows-startRows, time.Since(start), done)
			}
			if done {
				break
			}
		}
	}
	s.startPos.SnapshotDone, s.startPos.Snapshot = true, nil
	return tx.Commit(ctx)
}

// logProgress logs one table's snapshot progress with an estimate.
func (s *Source) logProgress(t *tableInfo, rows, copied int64, elapsed time.Duration, done bool) {
	rate := float64(copied) / max(elapsed.Seconds(), 1e-3)
	attrs := []any{"table", t.name.String(), "rows", rows, "rows_per_s", int64(rate)}
	if !done && t.estRows > rows && rate > 0 {
		attrs = append(attrs, "estimated_total", t.estRows, "eta", time.Duration(float64(t.estRows-rows)/rate*float64(time.Second)).Round(time.Second))
	}
	if done {
		s.log.Info("snapshot copied table", attrs...)
	} else {
		s.log.Info("snapshot progress", attrs...)
	}
}

func keyIndexes(t *tableInfo) []int {
	var out []int
	for _, k := range t.keyCols {
		for i, c := range t.columns {
			if c.Name == k {
				out = append(out, i)
			}
		}
	}
	return out
}

// chunkSQL copies the next chunk of rows after the key `after`, in key
// order. Key values are typed literals (standard_conforming_strings is on).
func chunkSQL(t *tableInfo, after []string, chunk int) string {
	cols := make([]string, len(t.columns))
	for i, c := range t.columns {
		cols[i] = config.QuoteIdent(c.Name)
	}
	keys := make([]string, len(t.keyCols))
	for i, k := range t.keyCols {
		keys[i] = config.QuoteIdent(k)
	}
	where := ""
	if after != nil {
		lits := make([]string, len(after))
		for i, v := range after {
			lits[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'::" + t.typeSQL[t.keyCols[i]]
		}
		where = fmt.Sprintf(" WHERE (%s) > (%s)", strings.Join(keys, ", "), strings.Join(lits, ", "))
	}
	return fmt.Sprintf("COPY (SELECT %s FROM %s%s ORDER BY %s LIMIT %d) TO STDOUT",
		strings.Join(cols, ", "), t.name.Quoted(), where, strings.Join(keys, ", "), chunk)
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
	seq0    int64 // rows of the table copied before this chunk
	keyIdx  []int
	keyBuf  []byte // key fields of the last row, back to back
	keyEnds []int  // end of each key field in keyBuf
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
	w.pos.seq = uint32(w.seq0 + w.rows)
	rec, buf, err := w.enc.encode(w.ch.room(), change.OpRead, nil, false, w.cells, w.pos, w.pos.tsMs)
	w.ch.buf = buf
	if err != nil {
		w.err = err
		return err
	}
	w.ch.add(rec)
	// Remember this row's key without allocating: only the chunk's last
	// row is needed, as strings, once (lastKey).
	w.keyBuf, w.keyEnds = w.keyBuf[:0], w.keyEnds[:0]
	for _, ki := range w.keyIdx {
		w.keyBuf = append(w.keyBuf, w.fields[ki]...)
		w.keyEnds = append(w.keyEnds, len(w.keyBuf))
	}
	if len(w.ch.recs) >= chunkRecords {
		b, _ := w.ch.take(true)
		if err := w.s.send(w.ctx, b); err != nil {
			w.err = err
			return err
		}
	}
	return nil
}

// lastKey returns the key fields of the last row written, as text.
func (w *copyWriter) lastKey() []string {
	out := make([]string, len(w.keyEnds))
	start := 0
	for i, end := range w.keyEnds {
		out[i] = string(w.keyBuf[start:end])
		start = end
	}
	return out
}
