package postgres

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/connectors/conf"
)

// snapshot copies every cdc table with snapshot: initial, in primary-key
// order, chunk by chunk, and sends its rows as op "r" changes. Each chunk
// ends with a Position that records the progress (table, last key, rows),
// so the chunk and its progress commit to Kafka together and a restart
// resumes at the first unfinished chunk. With workers > 1 a table is split
// into key ranges (from a sample of its keys) that several connections
// copy at once inside the same snapshot; the ranges are still sent and
// committed in key order, so progress stays one key. The first run reads
// inside the slot's exported snapshot; a resumed run reads the rest from a
// new snapshot (rows changed since the slot's consistent point also arrive
// from the stream, with higher versions).
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
	snapName := s.snapshotName
	if snapName != "" {
		if _, err := tx.Exec(ctx, fmt.Sprintf("SET TRANSACTION SNAPSHOT '%s'", snapName)); err != nil {
			return fmt.Errorf("source %s: use exported snapshot: %w", s.name, err)
		}
	} else if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snapName); err != nil {
		return fmt.Errorf("source %s: export snapshot for workers: %w", s.name, err)
	}
	prog := SnapshotProgress{}
	if s.startPos.Snapshot != nil {
		prog = *s.startPos.Snapshot
	}
	var ch chunker
	ts := time.Now().UnixMilli()
	tables := s.sortedTables()
	for ti := prog.Table; ti < len(tables); ti++ {
		t := tables[ti]
		after, rows := []string(nil), int64(0)
		if ti == prog.Table {
			after, rows = prog.After, prog.Rows
		}
		tc := &tableCopy{s: s, ctx: ctx, t: t, index: ti, last: ti+1 == len(tables), ch: &ch,
			enc: s.encoderFor(t.name, t.columns), after: after, rows: rows, startRows: rows,
			pos:   srcPos{commitLSN: uint64(s.startPos.CommitLSN), tsMs: ts, snapshot: true},
			start: time.Now(), lastLog: time.Now()}
		if t.binaryCopy() {
			tc.wires = t.wires
		}
		ch.add(tc.enc.schemaRecord())
		s.progress.set(t.name.String(), rows, t.estRows, false)
		s.log.Info("snapshot copying table", "table", t.name.String(), "estimated_rows", t.estRows,
			"resumed_at_row", rows, "format", copyFormat(tc.wires))
		var err error
		if t.cfg.Workers > 1 && t.estRows > 2*int64(t.cfg.ChunkRows) {
			err = tc.parallel(conn, snapName)
		} else {
			err = tc.sequential(conn)
		}
		if err != nil {
			return err
		}
	}
	s.startPos.SnapshotDone, s.startPos.Snapshot = true, nil
	return tx.Commit(ctx)
}

// tableCopy is the snapshot of one table.
type tableCopy struct {
	s       *Source
	ctx     context.Context
	t       *tableInfo
	index   int  // in sortedTables
	last    bool // the last table to copy
	ch      *chunker
	enc     *tableEnc
	wires   []wire // set: copy in binary
	pos     srcPos
	after   []string // key of the last row sent
	rows    int64    // rows sent
	start   time.Time
	lastLog time.Time

	startRows int64
}

// sequential copies chunk after chunk on conn, streaming rows as they come.
func (c *tableCopy) sequential(conn *pgx.Conn) error {
	limit := c.t.cfg.ChunkRows
	for {
		w := c.writer()
		if _, err := conn.PgConn().CopyTo(c.ctx, w, c.format(chunkSQL(c.t, c.after, limit, ""))); err != nil {
			return fmt.Errorf("source %s: copy %s: %w", c.s.name, c.t.name, err)
		}
		if w.err != nil {
			return w.err
		}
		if len(w.partial) > 0 {
			return fmt.Errorf("source %s: copy %s: output ends inside a row", c.s.name, c.t.name)
		}
		if err := c.chunkDone(w, nil, w.rows < int64(limit)); err != nil || w.rows < int64(limit) {
			return err
		}
	}
}

func (c *tableCopy) writer() *copyWriter {
	return &copyWriter{s: c.s, ctx: c.ctx, enc: c.enc, wires: c.wires, ch: c.ch, keyIdx: keyIndexes(c.t), pos: c.pos, seq0: c.rows}
}

// format makes a COPY … TO STDOUT statement binary when the table is
// copied in binary.
func (c *tableCopy) format(sql string) string {
	if c.wires != nil {
		return sql + " (FORMAT binary)"
	}
	return sql
}

func copyFormat(wires []wire) string {
	if wires != nil {
		return "binary"
	}
	return "text"
}

// chunkDone commits a copied chunk with the progress after it: the key
// bound of its range (hi) or its last row's key.
func (c *tableCopy) chunkDone(w *copyWriter, hi []string, done bool) error {
	c.rows += w.rows
	if hi != nil {
		c.after = hi
	} else if w.rows > 0 {
		c.after = w.lastKey()
	}
	s := c.s
	next := Position{CommitLSN: s.startPos.CommitLSN, EndLSN: s.startPos.EndLSN, Refreshes: s.refreshes, Backfills: s.backfills,
		Snapshot: &SnapshotProgress{Table: c.index, After: c.after, Rows: c.rows, Name: c.t.name.String(), Estimated: c.t.estRows}}
	if done {
		next.Snapshot = &SnapshotProgress{Table: c.index + 1}
		if c.last {
			next.Snapshot, next.SnapshotDone = nil, true
		}
	}
	c.ch.commit(next.encode())
	if b, ok := c.ch.take(true); ok {
		if err := s.send(c.ctx, b); err != nil {
			return err
		}
	}
	s.progress.set(c.t.name.String(), c.rows, c.t.estRows, done)
	if done || (!s.quiet && time.Since(c.lastLog) >= 5*time.Second) {
		c.lastLog = time.Now()
		s.logProgress(c.t, c.rows, c.rows-c.startRows, time.Since(c.start), done)
	}
	return nil
}

// keyRange is one parallel chunk: keys in (lo, hi]; hi nil is unbounded.
type keyRange struct {
	lo, hi []string
	data   chan rangeData
}

type rangeData struct {
	buf []byte // COPY text output
	err error
}

// parallel splits the rest of the table into key ranges from a sample of
// its keys and copies them on workers connections inside snapshot snap,
// sending them in key order.
func (c *tableCopy) parallel(conn *pgx.Conn, snap string) error {
	s, t := c.s, c.t
	bounds, err := sampleBounds(c.ctx, conn, t, c.after, int((t.estRows-c.rows)/int64(t.cfg.ChunkRows))+1)
	if err != nil {
		return fmt.Errorf("source %s: split %s into ranges: %w", s.name, t.name, err)
	}
	ranges := make([]*keyRange, 0, len(bounds)+1)
	lo := c.after
	for _, b := range bounds {
		ranges = append(ranges, &keyRange{lo: lo, hi: b, data: make(chan rangeData, 1)})
		lo = b
	}
	ranges = append(ranges, &keyRange{lo: lo, data: make(chan rangeData, 1)})
	workers := min(t.cfg.Workers, len(ranges))
	s.log.Info("snapshot copying in parallel", "table", t.name.String(), "ranges", len(ranges), "workers", workers)

	wctx, cancel := context.WithCancel(c.ctx)
	todo := make(chan *keyRange)
	// At most workers+1 ranges are copied but not yet sent: memory stays
	// a few chunks whatever the table size.
	ahead := make(chan struct{}, workers+1)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.rangeWorker(wctx, snap, todo)
		}()
	}
	go func() {
		defer close(todo)
		for _, r := range ranges {
			select {
			case ahead <- struct{}{}:
			case <-wctx.Done():
				return
			}
			select {
			case todo <- r:
			case <-wctx.Done():
				return
			}
		}
	}()
	defer func() {
		cancel()
		wg.Wait()
	}()
	for i, r := range ranges {
		var d rangeData
		select {
		case d = <-r.data:
		case <-c.ctx.Done():
			return c.ctx.Err()
		}
		if d.err != nil {
			return fmt.Errorf("source %s: copy %s: %w", s.name, t.name, d.err)
		}
		w := c.writer()
		if _, err := w.Write(d.buf); err != nil {
			return err
		}
		if len(w.partial) > 0 {
			return fmt.Errorf("source %s: copy %s: output ends inside a row", s.name, t.name)
		}
		<-ahead
		if err := c.chunkDone(w, r.hi, i == len(ranges)-1); err != nil {
			return err
		}
	}
	return nil
}

// rangeWorker copies ranges on its own connection in the shared snapshot.
func (c *tableCopy) rangeWorker(ctx context.Context, snap string, todo <-chan *keyRange) {
	fail := func(err error) {
		for r := range todo {
			r.data <- rangeData{err: err}
		}
	}
	cc, err := c.s.connConfig(false)
	if err != nil {
		fail(err)
		return
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		fail(fmt.Errorf("snapshot worker connection: %w", err))
		return
	}
	defer conn.Close(context.Background())
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err == nil {
		_, err = tx.Exec(ctx, fmt.Sprintf("SET TRANSACTION SNAPSHOT '%s'", snap))
	}
	if err != nil {
		fail(fmt.Errorf("snapshot worker: import snapshot: %w", err))
		return
	}
	defer tx.Rollback(context.Background())
	for r := range todo {
		var buf bytes.Buffer
		_, err := conn.PgConn().CopyTo(ctx, &buf, c.format(rangeSQL(c.t, r.lo, r.hi)))
		r.data <- rangeData{buf: buf.Bytes(), err: err}
	}
}

// sampleBounds picks about n-1 keys after `after` that split the rest of
// the table into n ranges of similar size, from a block sample.
func sampleBounds(ctx context.Context, conn *pgx.Conn, t *tableInfo, after []string, n int) ([][]string, error) {
	if n < 2 {
		return nil, nil
	}
	want := float64(n * 20)
	pct := min(100, max(0.01, 100*want/float64(max(t.estRows, 1))))
	keys := make([]string, len(t.keyCols))
	texts := make([]string, len(t.keyCols))
	for i, k := range t.keyCols {
		keys[i] = conf.QuoteIdent(k)
		// N.B. aliased: Postgres resolves a bare ORDER BY name to an output
		// column first, and "id"::text is output as "id", so without the
		// alias the sample sorts as text (1036407 < 103805) and the range
		// bounds, committed as progress, go backwards.
		texts[i] = fmt.Sprintf("%s::text AS _inlet_k%d", conf.QuoteIdent(k), i)
	}
	where := ""
	if after != nil {
		where = fmt.Sprintf(" WHERE (%s) > (%s)", strings.Join(keys, ", "), keyLiterals(t, after))
	}
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT %s FROM %s TABLESAMPLE SYSTEM (%g)%s ORDER BY %s",
		strings.Join(texts, ", "), t.name.Quoted(), pct, where, strings.Join(keys, ", ")))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var sample [][]string
	for rows.Next() {
		vals := make([]string, len(keys))
		ptrs := make([]any, len(keys))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		sample = append(sample, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out [][]string
	for i := 1; i < n; i++ {
		j := i * len(sample) / n
		if j >= len(sample) {
			break
		}
		if len(out) > 0 && strings.Join(out[len(out)-1], "\x00") == strings.Join(sample[j], "\x00") {
			continue
		}
		out = append(out, sample[j])
	}
	return out, nil
}

// keyLiterals renders key values as typed SQL literals.
func keyLiterals(t *tableInfo, vals []string) string {
	lits := make([]string, len(vals))
	for i, v := range vals {
		lits[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'::" + t.typeSQL[t.keyCols[i]]
	}
	return strings.Join(lits, ", ")
}

// rangeSQL copies the rows with keys in (lo, hi] in key order.
func rangeSQL(t *tableInfo, lo, hi []string) string {
	cols := make([]string, len(t.columns))
	for i, c := range t.columns {
		cols[i] = conf.QuoteIdent(c.Name)
	}
	keys := make([]string, len(t.keyCols))
	for i, k := range t.keyCols {
		keys[i] = conf.QuoteIdent(k)
	}
	k := strings.Join(keys, ", ")
	var conds []string
	if lo != nil {
		conds = append(conds, fmt.Sprintf("(%s) > (%s)", k, keyLiterals(t, lo)))
	}
	if hi != nil {
		conds = append(conds, fmt.Sprintf("(%s) <= (%s)", k, keyLiterals(t, hi)))
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	return fmt.Sprintf("COPY (SELECT %s FROM %s%s ORDER BY %s) TO STDOUT", strings.Join(cols, ", "), t.name.Quoted(), where, k)
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
// where, if set, is an extra SQL condition (a backfill's range).
func chunkSQL(t *tableInfo, after []string, chunk int, where string) string {
	cols := make([]string, len(t.columns))
	for i, c := range t.columns {
		cols[i] = conf.QuoteIdent(c.Name)
	}
	keys := make([]string, len(t.keyCols))
	for i, k := range t.keyCols {
		keys[i] = conf.QuoteIdent(k)
	}
	var conds []string
	if where != "" {
		conds = append(conds, "("+where+")")
	}
	if after != nil {
		conds = append(conds, fmt.Sprintf("(%s) > (%s)", strings.Join(keys, ", "), keyLiterals(t, after)))
	}
	cond := ""
	if len(conds) > 0 {
		cond = " WHERE " + strings.Join(conds, " AND ")
	}
	return fmt.Sprintf("COPY (SELECT %s FROM %s%s ORDER BY %s LIMIT %d) TO STDOUT",
		strings.Join(cols, ", "), t.name.Quoted(), cond, strings.Join(keys, ", "), chunk)
}

// sortedTables are the tables the initial snapshot copies, in config order.
func (s *Source) sortedTables() []*tableInfo {
	var out []*tableInfo
	for _, t := range s.cfg.Tables {
		if t.Mode == conf.ModeCDC && t.Snapshot != "never" {
			out = append(out, s.byName[t.TableName()])
		}
	}
	return out
}

// encoderFor builds the schema of a table's changes and its encoder. Source
// columns named like Inlet's own are renamed here (change.RenameReserved),
// once for Kafka, the lake and ClickHouse; columns whose type is carried as
// text for want of a mapping are logged.
func (s *Source) encoderFor(name conf.TableName, cols []change.Column) *tableEnc {
	cols = append([]change.Column(nil), cols...)
	for _, c := range cols {
		if typ, ok := fallbacks.LoadAndDelete(name.String() + "." + c.Name); ok {
			s.log.Warn("column type has no documented mapping; carrying its text form", "table", name.String(), "column", c.Name, "type", typ)
		}
	}
	change.RenameReserved(cols)
	for _, c := range cols {
		if c.SourceName != "" {
			s.log.Info("source column renamed: the name is Inlet's", "table", name.String(), "column", c.SourceName, "as", c.Name)
		}
	}
	sc := &change.Schema{
		Topic: change.TopicName(s.pipeline, name.Schema, name.Table), Connector: "postgres",
		Pipeline: s.pipeline, Database: s.db, Namespace: name.Schema, Table: name.Table, Columns: cols,
	}
	sc.Seal()
	return newTableEnc(sc, s.db, s.binaryEnvelope)
}

// copyWriter receives COPY output, text or (with wires set) binary, and
// turns each row into a record.
type copyWriter struct {
	s       *Source
	wires   []wire // set: binary format, each column's form
	header  bool   // binary header read
	raw     [][]byte
	ends    []int
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
	// keepAlive, if set, is called every few seconds during the copy.
	keepAlive func() error
	lastAlive time.Time
}

func (w *copyWriter) Write(p []byte) (int, error) {
	if w.wires != nil {
		return w.writeBinary(p)
	}
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

// writeBinary parses binary COPY output. Postgres sends a tuple per
// message, but nothing here relies on it: an incomplete tuple waits in
// partial for the rest.
func (w *copyWriter) writeBinary(p []byte) (int, error) {
	n := len(p)
	data := p
	if len(w.partial) > 0 {
		w.partial = append(w.partial, p...)
		data = w.partial
	}
	for len(data) > 0 {
		if !w.header {
			k, err := binaryHeader(data)
			if err != nil {
				w.err = err
				return 0, err
			}
			if k == 0 {
				break
			}
			w.header, data = true, data[k:]
			continue
		}
		k, raw, end, err := binaryTuple(data, w.raw)
		w.raw = raw
		if err == nil && k > 0 && !end {
			err = w.binaryRow(raw)
		}
		if err != nil {
			w.err = err
			return 0, err
		}
		if k == 0 {
			break
		}
		data = data[k:]
	}
	// Keep what is left (data may alias partial: copy down).
	w.partial = append(w.partial[:0], data...)
	return n, nil
}

// binaryRow turns one binary tuple into Postgres's text forms and emits it.
func (w *copyWriter) binaryRow(raw [][]byte) error {
	if len(raw) != len(w.wires) {
		return fmt.Errorf("copy %s: row has %d fields, want %d", w.enc.schema.Name(), len(raw), len(w.wires))
	}
	// The text forms go back to back into scratch; fields are cut from it
	// once it has stopped growing (ends: -1 for NULL).
	if w.scratch == nil {
		w.scratch = make([]byte, 0, 512) // non-nil: an empty value is not NULL
	}
	w.scratch, w.ends = w.scratch[:0], w.ends[:0]
	for i, b := range raw {
		if b == nil {
			w.ends = append(w.ends, -1)
			continue
		}
		var err error
		if w.scratch, err = appendWireText(w.scratch, w.wires[i], b); err != nil {
			return fmt.Errorf("copy %s, column %s: %w", w.enc.schema.Name(), w.enc.schema.Columns[i].Name, err)
		}
		w.ends = append(w.ends, len(w.scratch))
	}
	w.fields = w.fields[:0]
	start := 0
	for _, end := range w.ends {
		if end < 0 {
			w.fields = append(w.fields, nil)
			continue
		}
		w.fields = append(w.fields, w.scratch[start:end:end])
		start = end
	}
	return w.emit()
}

func (w *copyWriter) row(line []byte) error {
	w.fields, w.scratch = copyFields(line, w.fields, w.scratch)
	return w.emit()
}

// emit encodes the row in w.fields (Postgres text forms, nil for NULL).
func (w *copyWriter) emit() error {
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
		if w.keepAlive != nil && time.Since(w.lastAlive) > 5*time.Second {
			if err := w.keepAlive(); err != nil {
				w.err = err
				return err
			}
			w.lastAlive = time.Now()
		}
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
