// Package postgres captures changes from Postgres with logical replication
// (pgoutput) and turns them into change records, one topic per table.
//
// On first start it creates the publication and the slot, copies every table
// inside the slot's exported snapshot (op "r"), and then streams from the
// slot's consistent point, so snapshot and stream meet with no gap and no
// overlap. Positions are (commit LSN, end LSN) of the last transaction whose
// records are durable in Kafka; the slot is told of a position only through
// Ack, which the runtime calls after the Kafka commit.
package postgres

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/inlet-dev/inlet/connectors"
	"github.com/inlet-dev/inlet/connectors/conf"
	"github.com/inlet-dev/inlet/internal/retry"
)

// positionVersion is the format version of an encoded Position.
const positionVersion = 1

// Position is where the source resumes. With Seq 0 it is after the whole
// transaction that committed at CommitLSN; with Seq n > 0 it is inside that
// transaction, after its n-th change (a transaction split across Kafka
// transactions). Streaming restarts from EndLSN, the end of the last whole
// transaction, which is also what the slot is told is flushed.
type Position struct {
	V            int           `json:"v"`
	SnapshotDone bool          `json:"snapshot_done"`
	CommitLSN    pglogrepl.LSN `json:"commit_lsn"`
	Seq          uint32        `json:"seq,omitempty"`
	EndLSN       pglogrepl.LSN `json:"end_lsn"`
	// Snapshot is the progress of an unfinished snapshot: the next chunk
	// starts in table number Table (config order) after primary key After.
	Snapshot *SnapshotProgress `json:"snapshot,omitempty"`
	// Refreshes is the last refresh of each full_refresh table.
	Refreshes map[string]RefreshState `json:"refreshes,omitempty"`
	// Backfills are requested backfills, the running one first.
	Backfills []Backfill `json:"backfills,omitempty"`
}

// RefreshState is what the last full refresh of a table did.
type RefreshState struct {
	AtMs int64  `json:"at_ms"` // when it started
	Gen  uint64 `json:"gen"`   // its version (the WAL LSN when it started)
	Rows int64  `json:"rows"`
	Hash string `json:"hash"` // of the copied data; an unchanged table is not sent again
}

// SnapshotProgress is how far a snapshot got, committed chunk by chunk.
type SnapshotProgress struct {
	Table int      `json:"table"`
	After []string `json:"after,omitempty"` // primary-key values (text) of the last row copied
	Rows  int64    `json:"rows"`            // rows of Table copied so far
	// Name and Estimated (pg_class.reltuples) are for inlet status.
	Name      string `json:"name,omitempty"`
	Estimated int64  `json:"estimated,omitempty"`
}

// DecodePosition parses an encoded Position.
func DecodePosition(b []byte) (Position, error) {
	var p Position
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("decode postgres position: %w", err)
	}
	if p.V != positionVersion {
		return p, fmt.Errorf("postgres position has format version %d; this Inlet reads %d (upgrade Inlet)", p.V, positionVersion)
	}
	return p, nil
}

// position is a stream Position after the transaction that committed at
// commitLSN (inside it, after change seq, when seq > 0), with the source's
// refresh and backfill state.
func (s *Source) position(commitLSN pglogrepl.LSN, seq uint32, endLSN pglogrepl.LSN) []byte {
	p := Position{SnapshotDone: true, CommitLSN: commitLSN, Seq: seq, EndLSN: endLSN, Backfills: s.backfills}
	if len(s.refreshes) > 0 {
		p.Refreshes = s.refreshes
	}
	b := p.encode()
	if len(p.Backfills) > 0 || len(p.Refreshes) > 0 || s.lastPos.Load() != nil {
		s.lastPos.Store(&b)
	}
	return b
}

func (p Position) encode() []byte {
	p.V = positionVersion
	b, _ := json.Marshal(p)
	return b
}

// sessionParams make every text form the encoder relies on fixed.
var sessionParams = map[string]string{
	"DateStyle":                   "ISO, YMD",
	"TimeZone":                    "UTC",
	"bytea_output":                "hex",
	"extra_float_digits":          "3",
	"IntervalStyle":               "postgres",
	"standard_conforming_strings": "on",
	"application_name":            "inlet",
}

// Source is a Postgres CDC source. See connectors.Source for the contract.
type Source struct {
	cfg      *Config
	pipeline string
	name     string
	log      *slog.Logger

	conn     *pgx.Conn
	repl     *pgconn.PgConn
	db       string
	types    map[uint32]pgType
	tables   map[uint32]*tableInfo // by table oid
	textCols map[string]bool

	chunks chan connectors.Batch
	errc   chan error
	acked  atomic.Uint64 // end LSN durable in Kafka
	cancel context.CancelFunc
	wg     sync.WaitGroup
	timer  *time.Timer

	byName map[conf.TableName]*tableInfo // every configured table

	// Owned by the capture goroutine; recorded in every Position.
	refreshes  map[string]RefreshState
	backfills  []Backfill
	lastCommit pglogrepl.LSN
	bf         *backfillRun
	progress   progress
	quiet      bool
	// binaryEnvelope: write the binary envelope (kafka.envelope: binary).
	binaryEnvelope bool
	lastPos        atomic.Pointer[[]byte] // last position handed to the runtime

	// Set by Open for the capture goroutine.
	startPos     Position
	snapshotName string
	snapshotTodo bool
	announce     bool      // commit startPos before the first change
	streaming    bool      // START_REPLICATION issued on repl
	streamed     bool      // this process streamed the slot before (a reconnect)
	busySince    time.Time // since when the slot has been held by another process (zero: not)
}

var _ connectors.Source = (*Source)(nil)

// New returns a source for one configured Postgres source.
func New(pipeline, name string, cfg *Config, log *slog.Logger) *Source {
	return &Source{cfg: cfg, pipeline: pipeline, name: name, log: log.With("source", name), progress: progress{source: name}}
}

// BinaryEnvelope makes the source write every change record (snapshot,
// stream, backfill, full refresh and its markers) in the binary envelope
// instead of JSON (docs/envelope.md). Call it before Open.
func (s *Source) BinaryEnvelope() { s.binaryEnvelope = true }

func (s *Source) connConfig(replication bool) (*pgx.ConnConfig, error) {
	cc, err := pgx.ParseConfig(s.cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("source %s: dsn: %w", s.name, err)
	}
	for k, v := range sessionParams {
		cc.RuntimeParams[k] = v
	}
	if replication {
		cc.RuntimeParams["replication"] = "database"
	} else {
		// Copies read hundreds of MB: read the socket 256 KiB at a time
		// rather than pgx's 8 KiB (a tenth of the snapshot's syscalls).
		cc.BuildFrontend = func(r io.Reader, w io.Writer) *pgproto3.Frontend {
			return pgproto3.NewFrontend(bufio.NewReaderSize(r, 256<<10), w)
		}
	}
	return cc, nil
}

// Open implements connectors.Source. Its errors are classed (see
// classify): what needs a person says so, the rest capture retries.
func (s *Source) Open(ctx context.Context, pos []byte) error {
	return classify(s.open(ctx, pos))
}

// Reopen implements capture.Reopener: it closes the connections and opens
// them again after pos, as a fresh Open does. Streaming restarts from the
// slot's confirmed position, and what Kafka already holds is dropped by
// the runtime, so nothing is skipped or published twice.
func (s *Source) Reopen(ctx context.Context, pos []byte) error {
	s.Close()
	return s.Open(ctx, pos)
}

func (s *Source) open(ctx context.Context, pos []byte) error {
	cc, err := s.connConfig(false)
	if err != nil {
		return err
	}
	s.streaming, s.snapshotTodo, s.snapshotName, s.announce, s.startPos = false, false, "", false, Position{}
	s.acked.Store(0)
	if s.conn, err = pgx.ConnectConfig(ctx, cc); err != nil {
		return fmt.Errorf("source %s: connect to postgres: %w", s.name, err)
	}
	if err := s.conn.QueryRow(ctx, "SELECT current_database()").Scan(&s.db); err != nil {
		return fmt.Errorf("source %s: %w", s.name, err)
	}
	var walLevel string
	if err := s.conn.QueryRow(ctx, "SHOW wal_level").Scan(&walLevel); err != nil {
		return fmt.Errorf("source %s: %w", s.name, err)
	}
	if walLevel != "logical" {
		return needsUser(fmt.Errorf("source %s: postgres has wal_level=%s; logical replication needs wal_level=logical (set it in postgresql.conf and restart postgres)", s.name, walLevel))
	}
	if s.types, err = loadTypes(ctx, s.conn); err != nil {
		return fmt.Errorf("source %s: %w", s.name, err)
	}
	s.textCols = map[string]bool{}
	for _, c := range s.cfg.TextColumns {
		s.textCols[c] = true
	}
	s.tables = map[uint32]*tableInfo{}
	s.byName = map[conf.TableName]*tableInfo{}
	var names []conf.TableName
	for _, t := range s.cfg.Tables {
		tn, err := conf.ParseTableName(t.Name)
		if err != nil {
			return needsUser(err)
		}
		full := t.Mode == conf.ModeFullRefresh
		ti, err := loadTable(ctx, s.conn, s.types, tn, s.textCols, full)
		if err != nil {
			return fmt.Errorf("source %s: %w", s.name, err)
		}
		ti.cfg = t
		s.byName[tn] = ti
		if !full {
			s.tables[ti.oid] = ti
			names = append(names, tn)
		}
	}
	if pos != nil {
		// A publication dropped under a running pipeline cannot simply be
		// created again: the slot decodes its WAL with the catalog as it
		// was, where the new one does not exist.
		var exists bool
		if err := s.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, s.cfg.Publication).Scan(&exists); err != nil {
			return fmt.Errorf("source %s: %w", s.name, err)
		}
		if !exists {
			return retry.MarkNeedsUser(fmt.Errorf("source %s: publication %s was dropped, so changes since cannot be decoded", s.name, s.cfg.Publication), fixStartOver)
		}
	}
	if err := ensurePublication(ctx, s.conn, s.cfg.Publication, names); err != nil {
		return fmt.Errorf("source %s: %w", s.name, err)
	}

	rc, err := s.connConfig(true)
	if err != nil {
		return err
	}
	if s.repl, err = pgconn.ConnectConfig(ctx, &rc.Config); err != nil {
		return fmt.Errorf("source %s: open replication connection: %w (the user needs the REPLICATION attribute)", s.name, err)
	}
	var (
		slotExists bool
		plugin     string
		confirmed  pglogrepl.LSN
		activePid  int // the backend holding the slot (0: none)
	)
	var lsn string
	err = s.conn.QueryRow(ctx, `SELECT COALESCE(plugin, ''), COALESCE(confirmed_flush_lsn, '0/0')::text, COALESCE(active_pid, 0) FROM pg_replication_slots WHERE slot_name = $1`, s.cfg.Slot).Scan(&plugin, &lsn, &activePid)
	switch {
	case err == pgx.ErrNoRows:
	case err != nil:
		return fmt.Errorf("source %s: %w", s.name, err)
	default:
		slotExists = true
		if plugin != "pgoutput" {
			return retry.MarkNeedsUser(fmt.Errorf("source %s: replication slot %s exists but is not a pgoutput logical slot (plugin %q)", s.name, s.cfg.Slot, plugin),
				"give the source another slot name (sources[].postgres.slot), or drop that slot if nothing uses it")
		}
		if confirmed, err = pglogrepl.ParseLSN(lsn); err != nil {
			return fmt.Errorf("source %s: %w", s.name, err)
		}
	}
	if pos != nil {
		if s.startPos, err = DecodePosition(pos); err != nil {
			return retry.MarkPermanent(fmt.Errorf("source %s: %w", s.name, err))
		}
	}
	if slotExists && activePid != 0 && !s.startPos.SnapshotDone {
		// A snapshot is to be copied, then the slot streamed, but another
		// process holds the slot: a second Inlet on this pipeline (with
		// its own Kafka), or a copy of this source just fenced. Copying
		// now would publish the tables for a stream this process may never
		// read, and its engine would write them to the sinks the other
		// Inlet writes (the same lake tables): wait, as for a busy slot
		// at the start of streaming, then stop.
		if err := s.slotBusy(fmt.Errorf("source %s: replication slot %s is held by backend pid %d (is another inlet running this pipeline?)", s.name, s.cfg.Slot, activePid)); err != nil {
			return err
		}
	}
	s.refreshes = map[string]RefreshState{}
	for k, v := range s.startPos.Refreshes {
		s.refreshes[k] = v
	}
	s.backfills = append([]Backfill(nil), s.startPos.Backfills...)
	s.lastCommit = s.startPos.CommitLSN
	switch {
	case s.startPos.SnapshotDone:
		if !slotExists {
			return retry.MarkNeedsUser(fmt.Errorf("source %s: replication slot %s is gone, so changes after LSN %s cannot be read", s.name, s.cfg.Slot, s.startPos.EndLSN), fixStartOver)
		}
		// The slot may be ahead of Kafka's position: with nothing in
		// flight, the stream confirms WAL that holds no captured change.
		s.acked.Store(uint64(max(s.startPos.EndLSN, confirmed)))
	case s.startPos.Snapshot != nil && slotExists:
		// Some snapshot chunks are committed: carry on after them. The
		// exported snapshot died with the old connection, so the rest is
		// read from a new one; changes after the slot's consistent point
		// reach the sinks through the stream with higher versions.
		s.snapshotTodo = true
		s.acked.Store(uint64(s.startPos.EndLSN))
		s.log.Info("resuming snapshot", "table", s.startPos.Snapshot.Table, "rows_done", s.startPos.Snapshot.Rows)
	case slotExists:
		// The slot exists but Kafka holds no position: Inlet stopped (or
		// lost its connection) before it committed anything. The slot has
		// kept every change since it was created, so it is never dropped
		// (that lost every change made meanwhile); it is used from its
		// confirmed position, which is its consistent point (WAL is
		// confirmed only for positions committed to Kafka, or when nothing
		// captured is in flight after the snapshot).
		s.startPos = Position{CommitLSN: confirmed, EndLSN: confirmed}
		s.acked.Store(uint64(confirmed))
		if len(s.sortedTables()) == 0 {
			s.startPos.SnapshotDone, s.announce = true, true
			s.log.Info("replication slot exists with no committed position; streaming from the slot's confirmed position",
				"slot", s.cfg.Slot, "confirmed_flush_lsn", confirmed.String())
		} else {
			// The snapshot the slot exported died with the connection
			// that created it: copy the tables from a new snapshot, as a
			// resumed snapshot does. Rows changed since the slot's
			// consistent point also arrive from the stream, with higher
			// versions, so every sink converges on the current rows.
			s.startPos.Snapshot = &SnapshotProgress{}
			s.snapshotTodo = true
			s.log.Info("replication slot exists but no snapshot was committed; copying the tables from a new snapshot and streaming from the slot's position",
				"slot", s.cfg.Slot, "confirmed_flush_lsn", confirmed.String())
		}
	default:
		// First start (or the slot was dropped before any snapshot chunk
		// was committed): a new slot, its exported snapshot, a snapshot.
		res, err := pglogrepl.CreateReplicationSlot(ctx, s.repl, s.cfg.Slot, "pgoutput",
			pglogrepl.CreateReplicationSlotOptions{SnapshotAction: "EXPORT_SNAPSHOT", Mode: pglogrepl.LogicalReplication})
		if err != nil {
			return fmt.Errorf("source %s: create replication slot %s: %w (check max_replication_slots)", s.name, s.cfg.Slot, err)
		}
		cp, err := pglogrepl.ParseLSN(res.ConsistentPoint)
		if err != nil {
			return fmt.Errorf("source %s: %w", s.name, err)
		}
		s.snapshotName = res.SnapshotName
		s.snapshotTodo = true
		s.announce = len(s.sortedTables()) == 0 // snapshot: never everywhere
		s.startPos = Position{CommitLSN: cp, EndLSN: cp}
		s.log.Info("created replication slot", "slot", s.cfg.Slot, "consistent_point", cp.String())
	}
	if !s.snapshotTodo {
		// Start streaming here, so a reconnect that cannot stream yet (the
		// slot still held by the old walsender) fails Open and is retried.
		if err := s.startReplication(ctx); err != nil {
			return err
		}
	}

	s.chunks = make(chan connectors.Batch, 8)
	s.errc = make(chan error, 1)
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	rctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.capture(rctx); err != nil && !errors.Is(err, context.Canceled) {
			s.errc <- classify(err)
		}
	}()
	return nil
}

func (s *Source) capture(ctx context.Context) error {
	if s.snapshotTodo {
		if err := s.snapshot(ctx); err != nil {
			return err
		}
	}
	if s.announce {
		// Commit the position now, so a restart before the first change
		// resumes from it rather than from nothing.
		if err := s.send(ctx, connectors.Batch{Position: s.position(s.startPos.CommitLSN, 0, s.startPos.EndLSN)}); err != nil {
			return err
		}
	}
	return s.stream(ctx)
}

// Read implements connectors.Source.
func (s *Source) Read(ctx context.Context) (connectors.Batch, error) {
	select {
	case b := <-s.chunks:
		return b, nil
	default:
	}
	s.timer.Reset(100 * time.Millisecond)
	defer s.timer.Stop()
	select {
	case b := <-s.chunks:
		return b, nil
	case err := <-s.errc:
		return connectors.Batch{}, err
	case <-s.timer.C:
		return connectors.Batch{}, nil
	case <-ctx.Done():
		return connectors.Batch{}, ctx.Err()
	}
}

// Ack implements connectors.Source.
func (s *Source) Ack(ctx context.Context, pos []byte) error {
	p, err := DecodePosition(pos)
	if err != nil {
		return err
	}
	for {
		cur := s.acked.Load()
		if uint64(p.EndLSN) <= cur || s.acked.CompareAndSwap(cur, uint64(p.EndLSN)) {
			return nil
		}
	}
}

// Close implements connectors.Source.
func (s *Source) Close() error {
	if s.cancel != nil {
		s.cancel()
		s.wg.Wait()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s.repl != nil {
		s.repl.Close(ctx)
	}
	if s.conn != nil {
		s.conn.Close(ctx)
	}
	s.cancel, s.repl, s.conn = nil, nil, nil
	return nil
}

// send hands a batch to Read.
func (s *Source) send(ctx context.Context, b connectors.Batch) error {
	select {
	case s.chunks <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// chunker groups records into batches that end, where possible, at a
// transaction boundary so they carry a Position.
type chunker struct {
	recs     []connectors.Record
	boundary int    // recs[:boundary] end at pos
	pos      []byte // position at boundary
	partial  func() []byte
	buf      []byte // backing bytes of keys and values
	started  time.Time
}

const (
	chunkRecords = 4096
	chunkBuf     = 1 << 20
	chunkAge     = 50 * time.Millisecond
)

func (c *chunker) add(r connectors.Record) {
	if len(c.recs) == 0 {
		c.started = time.Now()
	}
	c.recs = append(c.recs, r)
}

func (c *chunker) commit(pos []byte) {
	c.boundary = len(c.recs)
	c.pos = pos
}

// take returns the records up to the last boundary with its position, or,
// when force is set and no boundary exists, every record with no position.
func (c *chunker) take(force bool) (connectors.Batch, bool) {
	if c.boundary > 0 || (c.boundary == 0 && c.pos != nil) {
		b := connectors.Batch{Records: c.recs[:c.boundary:c.boundary], Position: c.pos}
		rest := make([]connectors.Record, len(c.recs)-c.boundary, max(len(c.recs)-c.boundary, chunkRecords))
		copy(rest, c.recs[c.boundary:])
		c.recs, c.boundary, c.pos = rest, 0, nil
		c.started = time.Now()
		return b, true
	}
	if force && len(c.recs) > 0 {
		b := connectors.Batch{Records: c.recs}
		if c.partial != nil {
			b.Partial = c.partial()
		}
		c.recs = make([]connectors.Record, 0, chunkRecords)
		return b, true
	}
	return connectors.Batch{}, false
}

// room returns buf with space reserved, starting a new backing array when
// the current one is full (records already handed out keep the old one).
func (c *chunker) room() []byte {
	if cap(c.buf)-len(c.buf) < 64<<10 {
		c.buf = make([]byte, 0, chunkBuf)
	}
	return c.buf
}
