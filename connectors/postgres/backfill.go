package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inlet-dev/inlet/connectors/conf"
	"github.com/inlet-dev/inlet/internal/retry"
)

// Backfill re-reads a table (or the rows matching Where) while the stream
// runs, chunk by chunk in key order, with DBLog-style watermarks:
//
//  1. a worker writes a low watermark (a transactional logical message),
//     copies the next chunk with a plain SELECT, and writes a high
//     watermark;
//  2. the stream, between the two watermarks, notes the key of every
//     change to the table;
//  3. at the high watermark's commit the stream emits the chunk's rows
//     (op "r", version = that commit's LSN) except those whose key
//     changed in the window: the stream already carries a newer image.
//
// So a backfilled row is never older than what the stream says about it,
// the stream only waits for one chunk's emit, and the progress (last key
// done) commits to Kafka with the chunk. Requests arrive through the WAL
// too (inlet backfill writes an "inlet_backfill" message), so they survive
// restarts and need no other channel to a running pipeline.
type Backfill struct {
	ID      string   `json:"id"`
	Table   string   `json:"table"` // schema.table
	Where   string   `json:"where,omitempty"`
	After   []string `json:"after,omitempty"` // key of the last row done
	Rows    int64    `json:"rows"`            // rows emitted
	Skipped int64    `json:"skipped"`         // rows left to the stream (changed during their window)
	Chunks  int      `json:"chunks"`
	StartMs int64    `json:"start_ms"`
}

// Logical message prefixes.
const (
	msgBackfill  = "inlet_backfill"
	msgWatermark = "inlet_watermark"
	msgHeartbeat = "inlet_heartbeat"
)

// BackfillRequest is the content of an inlet_backfill message.
type BackfillRequest struct {
	ID    string `json:"id"`
	Table string `json:"table"`
	Where string `json:"where,omitempty"`
}

// RequestBackfill asks the running (or next) capture of conn's database to
// backfill table, by writing a transactional logical message. The where
// clause is checked first.
func RequestBackfill(ctx context.Context, conn *pgx.Conn, table conf.TableName, where string) (string, error) {
	check := fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM %s", table.Quoted())
	if where != "" {
		check += " WHERE " + where
	}
	check += ") s"
	var n int64
	if err := conn.QueryRow(ctx, check).Scan(&n); err != nil {
		return "", fmt.Errorf("check backfill of %s: %w (fix --where; it is plain SQL over the table's columns)", table, err)
	}
	id := time.Now().UTC().Format("20060102T150405") + "-" + randToken()[:6]
	b, _ := json.Marshal(BackfillRequest{ID: id, Table: table.String(), Where: where})
	if _, err := conn.Exec(ctx, "SELECT pg_logical_emit_message(true, $1, $2::text)", msgBackfill, string(b)); err != nil {
		return "", fmt.Errorf("request backfill of %s: %w", table, err)
	}
	return id, nil
}

func randToken() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// backfillRun is the worker copying chunks of s.backfills[0].
type backfillRun struct {
	mu     sync.Mutex
	nonce  string   // watermark of the chunk in flight
	chunk  *bfChunk // its rows, set before the high watermark is written
	next   chan Backfill
	cancel context.CancelFunc
	done   chan struct{}
	ti     *tableInfo
	enc    *tableEnc
	limit  int
}

// bfChunk is one copied chunk: COPY text lines.
type bfChunk struct {
	lines [][]byte
	full  bool // as many rows as the limit: more may follow
}

func (r *backfillRun) current() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nonce
}

func (r *backfillRun) take(nonce string) *bfChunk {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nonce != nonce {
		return nil
	}
	c := r.chunk
	r.chunk, r.nonce = nil, ""
	return c
}

func (r *backfillRun) stop() {
	r.cancel()
	<-r.done
}

// startBackfill starts the worker for s.backfills[0], if any, asking it for
// the first chunk.
func (s *Source) startBackfill(ctx context.Context) {
	for len(s.backfills) > 0 {
		b := s.backfills[0]
		tn, err := conf.ParseTableName(b.Table)
		ti := s.byName[tn]
		if err != nil || ti == nil || ti.cfg.Mode != conf.ModeCDC {
			if ti != nil && ti.cfg.Mode == conf.ModeFullRefresh {
				s.log.Info("backfill of a full_refresh table: refreshing it now", "table", b.Table, "backfill", b.ID)
				s.refreshes[b.Table] = RefreshState{AtMs: 1}
			} else {
				s.log.Warn("backfill ignored: the table is not captured by this source", "table", b.Table, "backfill", b.ID)
			}
			s.backfills = s.backfills[1:]
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		r := &backfillRun{next: make(chan Backfill, 1), cancel: cancel, done: make(chan struct{}), ti: ti,
			enc: s.encoderFor(ti.name, ti.columns), limit: ti.cfg.ChunkRows}
		s.bf = r
		go func() {
			defer close(r.done)
			s.backfillWorker(wctx, r)
		}()
		r.next <- b
		s.log.Info("backfill running", "backfill", b.ID, "table", b.Table, "where", b.Where, "rows_done", b.Rows)
		return
	}
}

// backfillWorker copies one chunk per request, between watermarks.
func (s *Source) backfillWorker(ctx context.Context, r *backfillRun) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	for {
		var b Backfill
		select {
		case <-ctx.Done():
			return
		case b = <-r.next:
		}
		// Retried until it succeeds or the stream stops: 1s doubling to 30s.
		_ = retry.Do(ctx, retry.Backoff{Initial: time.Second, Max: 30 * time.Second, NoJitter: true}, retry.Hooks{
			OnRetry: func(err error, _ int, wait time.Duration) {
				s.log.Error("incident: backfill chunk failed; retrying", "backfill", b.ID, "table", b.Table, "err", err, "retry_in", wait)
				if conn != nil {
					conn.Close(context.Background())
					conn = nil
				}
			},
			OnResolved: func(attempts int) {
				s.log.Info("incident resolved: backfill chunk copied", "backfill", b.ID, "table", b.Table, "attempts", attempts)
			},
		}, func(ctx context.Context) error {
			if conn == nil {
				cc, err := s.connConfig(false)
				if err != nil {
					return err
				}
				if conn, err = pgx.ConnectConfig(ctx, cc); err != nil {
					return err
				}
			}
			return s.backfillChunk(ctx, conn, r, b)
		})
	}
}

func (s *Source) backfillChunk(ctx context.Context, conn *pgx.Conn, r *backfillRun, b Backfill) error {
	nonce := b.ID + ":" + randToken()
	r.mu.Lock()
	r.nonce, r.chunk = nonce, nil
	r.mu.Unlock()
	if _, err := conn.Exec(ctx, "SELECT pg_logical_emit_message(true, $1, $2::text)", msgWatermark, "l:"+nonce); err != nil {
		return fmt.Errorf("low watermark: %w", err)
	}
	lw := &lineWriter{}
	if _, err := conn.PgConn().CopyTo(ctx, lw, chunkSQL(r.ti, b.After, r.limit, b.Where)); err != nil {
		return fmt.Errorf("copy chunk: %w", err)
	}
	r.mu.Lock()
	r.chunk = &bfChunk{lines: lw.lines, full: len(lw.lines) >= r.limit}
	r.mu.Unlock()
	if _, err := conn.Exec(ctx, "SELECT pg_logical_emit_message(true, $1, $2::text)", msgWatermark, "h:"+nonce); err != nil {
		return fmt.Errorf("high watermark: %w", err)
	}
	return nil
}

// lineWriter keeps COPY text output as lines.
type lineWriter struct {
	lines   [][]byte
	partial []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			break
		}
		line := append(w.partial, p[:i]...)
		w.lines = append(w.lines, line)
		w.partial = nil
		p = p[i+1:]
	}
	return n, nil
}

// bfTrack is the stream's side of the chunk in flight.
type bfTrack struct {
	nonce string              // between its low and high watermark
	keys  map[string]struct{} // keys changed in the window
	high  bool                // the current transaction holds the high watermark
}

// watermark handles a watermark message in the stream.
func (s *Source) watermark(st *streamState, content []byte) {
	if s.bf == nil || len(content) < 2 {
		return
	}
	kind, nonce := content[0], string(content[2:])
	if nonce != s.bf.current() {
		return // a watermark of an earlier attempt or run
	}
	switch kind {
	case 'l':
		st.bf = bfTrack{nonce: nonce, keys: map[string]struct{}{}}
	case 'h':
		if st.bf.nonce == nonce {
			st.bf.high = true
		}
	}
}

// noteKey records the key of a change to the table being backfilled.
func (st *streamState) noteKey(enc *tableEnc, cells []cell) {
	if cells == nil {
		return
	}
	var b []byte
	for _, ki := range enc.keyIdx {
		if ki < len(cells) {
			b = append(b, cells[ki].data...)
		}
		b = append(b, 0)
	}
	st.bf.keys[string(b)] = struct{}{}
}

// emitBackfill runs at the commit of the high watermark's transaction: it
// queues the chunk's rows not changed in the window, at version commitLSN,
// and moves the backfill on.
func (s *Source) emitBackfill(ctx context.Context, st *streamState, ch *chunker, commitLSN uint64, tsMs int64) error {
	r := s.bf
	c := r.take(st.bf.nonce)
	changed := st.bf.keys
	st.bf = bfTrack{}
	if c == nil {
		return nil
	}
	b := &s.backfills[0]
	ch.add(r.enc.schemaRecord())
	w := &copyWriter{s: s, ctx: ctx, enc: r.enc, ch: ch, keyIdx: keyIndexes(r.ti),
		pos: srcPos{commitLSN: commitLSN, tsMs: tsMs, seq: st.seq}, seq0: int64(st.seq)}
	var fields [][]byte
	var scratch, key []byte
	for _, line := range c.lines {
		fields, scratch = copyFields(line, fields, scratch)
		key = key[:0]
		for _, ki := range r.enc.keyIdx {
			if ki < len(fields) {
				key = append(key, fields[ki]...)
			}
			key = append(key, 0)
		}
		if _, ok := changed[string(key)]; ok {
			b.Skipped++
			continue
		}
		if err := w.row(line); err != nil {
			return err
		}
	}
	st.seq = uint32(w.seq0 + w.rows)
	b.Rows += w.rows
	b.Chunks++
	if len(c.lines) > 0 {
		fields, _ = copyFields(c.lines[len(c.lines)-1], fields, scratch)
		b.After = make([]string, len(r.enc.keyIdx))
		for i, ki := range r.enc.keyIdx {
			b.After[i] = string(fields[ki])
		}
	}
	if c.full {
		r.next <- *b
		return nil
	}
	s.log.Info("backfill done", "backfill", b.ID, "table", b.Table, "rows", b.Rows, "left_to_stream", b.Skipped,
		"chunks", b.Chunks, "elapsed", time.Since(time.UnixMilli(b.StartMs)).Round(time.Second))
	r.stop()
	s.bf = nil
	s.backfills = append([]Backfill(nil), s.backfills[1:]...)
	s.startBackfill(ctx)
	return nil
}

// backfillRequest handles an inlet_backfill message.
func (s *Source) backfillRequest(ctx context.Context, content []byte) {
	var req BackfillRequest
	if err := json.Unmarshal(content, &req); err != nil || req.ID == "" {
		s.log.Warn("ignoring a malformed inlet_backfill message", "content", string(content))
		return
	}
	for _, b := range s.backfills {
		if b.ID == req.ID {
			return // seen before a restart
		}
	}
	tn, err := conf.ParseTableName(req.Table)
	if err != nil || s.byName[tn] == nil {
		return // another source's table
	}
	s.log.Info("backfill requested", "backfill", req.ID, "table", req.Table, "where", req.Where, "queued_before", len(s.backfills))
	s.backfills = append(s.backfills, Backfill{ID: req.ID, Table: tn.String(), Where: req.Where, StartMs: time.Now().UnixMilli()})
	if s.bf == nil {
		s.startBackfill(ctx)
	}
}
