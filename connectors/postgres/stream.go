package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/internal/retry"
)

const statusInterval = 10 * time.Second

// streamState is the decoder's state between messages.
type streamState struct {
	rels map[uint32]*tableEnc // by relation id (= table oid)
	// current transaction
	inTxn     bool
	lastEnd   uint64 // end LSN of the last whole transaction read
	commitLSN uint64
	xid       uint32
	tsMs      int64
	seq       uint32
	dml       dml      // the row change being read (reused)
	requests  [][]byte // backfill requests in the current transaction
	bf        bfTrack
}

// slotBusyGrace is how long a source that never streamed waits for a
// slot another process holds before it stops (see startReplication).
const slotBusyGrace = 30 * time.Second

// startReplication starts streaming the slot.
func (s *Source) startReplication(ctx context.Context) error {
	// N.B. Start from the slot's confirmed position (LSN 0), not from the
	// position stored in Kafka: the slot only ever hears of positions whose
	// Kafka commit returned, so it never runs ahead of Kafka, even when a
	// crash tore a commit across partitions. What Kafka already holds is
	// dropped per partition by the runtime (connectors.Record.Order).
	var start pglogrepl.LSN
	err := pglogrepl.StartReplication(ctx, s.repl, s.cfg.Slot, start, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", fmt.Sprintf("publication_names '%s'", s.cfg.Publication), "messages 'true'"},
	})
	if err != nil {
		err = fmt.Errorf("source %s: start replication on slot %s: %w (is another inlet running this pipeline?)", s.name, s.cfg.Slot, err)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "55006" {
			return s.slotBusy(err)
		}
		return err
	}
	s.busySince = time.Time{}
	s.streaming, s.streamed = true, true
	return nil
}

// slotBusy is what err, the slot being held by another backend, means.
// When this process never streamed the slot, another Inlet runs the
// source. If that copy was just fenced (this process's producer took over
// the transactional id), it stops at its next commit and lets the slot go:
// err is returned (retried) for slotBusyGrace, then it needs a person to
// stop one of them. (After streaming, the holder is most likely our own
// old walsender, which has not noticed that its connection is gone: that
// is retried.)
func (s *Source) slotBusy(err error) error {
	if s.streamed {
		return err
	}
	if s.busySince.IsZero() {
		s.busySince = time.Now()
	}
	if time.Since(s.busySince) < slotBusyGrace {
		return err
	}
	return needsUser(err)
}

// stream reads the slot from s.startPos and sends batches until ctx ends.
func (s *Source) stream(ctx context.Context) error {
	if !s.streaming {
		if err := s.startReplication(ctx); err != nil {
			return err
		}
	}
	s.log.Info("streaming", "slot", s.cfg.Slot, "kafka_position", s.startPos.EndLSN.String())
	st := &streamState{rels: map[uint32]*tableEnc{}, lastEnd: uint64(s.startPos.EndLSN)}
	var ch chunker
	ch.partial = func() []byte {
		if !st.inTxn {
			return nil
		}
		return s.position(pglogrepl.LSN(st.commitLSN), st.seq, pglogrepl.LSN(st.lastEnd))
	}
	s.startBackfill(ctx)
	defer func() {
		if s.bf != nil {
			s.bf.stop()
			s.bf = nil
		}
	}()
	keepAlive := func() error {
		a := pglogrepl.LSN(s.acked.Load())
		return pglogrepl.SendStandbyStatusUpdate(ctx, s.repl, pglogrepl.StandbyStatusUpdate{WALWritePosition: a, WALFlushPosition: a, WALApplyPosition: a})
	}
	// serverEnd is the WAL the server reports as sent (keepalive
	// ServerWALEnd). confirm is what the slot may be told is flushed:
	// what Kafka holds (acked) and, when nothing captured is in flight —
	// no transaction being read, nothing buffered, everything read
	// durable in Kafka, no backfill between its watermarks — all the WAL
	// sent, as pg_recvlogical does. Without that, WAL that carries no
	// captured change is never confirmed: the slot retains it, and a
	// fast shutdown, which waits for the client to confirm the shutdown
	// checkpoint, never completes.
	// N.B. https://www.postgresql.org/docs/current/protocol-replication.html
	// (Primary keepalive message; Standby status update).
	var serverEnd uint64
	confirm := func() uint64 {
		a := s.acked.Load()
		if serverEnd > a && a >= st.lastEnd && !st.inTxn && len(ch.recs) == 0 && s.bf == nil {
			return serverEnd
		}
		return a
	}
	var lastRefreshCheck time.Time
	heartbeat := time.NewTicker(s.heartbeatEvery())
	defer heartbeat.Stop()
	var lastStatus time.Time
	var sentLSN uint64
	deadline := recvDeadline{conn: s.repl.Conn()}
	defer deadline.stop()
	done := ctx.Done()
	for {
		// Never less than was sent: what was confirmed stays confirmed.
		if a := max(confirm(), sentLSN); a > sentLSN || time.Since(lastStatus) > statusInterval {
			if err := pglogrepl.SendStandbyStatusUpdate(ctx, s.repl, pglogrepl.StandbyStatusUpdate{
				WALWritePosition: pglogrepl.LSN(a), WALFlushPosition: pglogrepl.LSN(a), WALApplyPosition: pglogrepl.LSN(a),
			}); err != nil {
				return fmt.Errorf("source %s: send standby status: %w", s.name, err)
			}
			sentLSN, lastStatus = a, time.Now()
		}
		if !st.inTxn && time.Since(lastRefreshCheck) >= time.Second {
			lastRefreshCheck = time.Now()
			for _, t := range s.refreshDue(lastRefreshCheck) {
				if err := s.refresh(ctx, &ch, t, pglogrepl.LSN(st.lastEnd), keepAlive); err != nil {
					return err
				}
				if b, ok := ch.take(false); ok {
					if err := s.send(ctx, b); err != nil {
						return err
					}
				}
			}
		}
		select {
		case <-done:
			return ctx.Err()
		case <-heartbeat.C:
			if err := s.heartbeat(ctx); err != nil {
				s.log.Warn("heartbeat failed", "err", err)
			}
		default:
		}
		deadline.arm()
		msg, err := s.repl.ReceiveMessage(context.Background())
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) {
				if b, ok := ch.take(false); ok {
					if err := s.send(ctx, b); err != nil {
						return err
					}
				}
				continue
			}
			return fmt.Errorf("source %s: receive from postgres: %w", s.name, err)
		}
		cd, ok := msg.(*pgproto3.CopyData)
		if !ok {
			if er, ok := msg.(*pgproto3.ErrorResponse); ok {
				return fmt.Errorf("source %s: replication error: %w", s.name, pgconn.ErrorResponseToPgError(er))
			}
			continue
		}
		switch cd.Data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(cd.Data[1:])
			if err != nil {
				return fmt.Errorf("source %s: %w", s.name, err)
			}
			serverEnd = max(serverEnd, uint64(ka.ServerWALEnd))
			if ka.ReplyRequested {
				lastStatus = time.Time{}
			}
		case pglogrepl.XLogDataByteID:
			xld, err := pglogrepl.ParseXLogData(cd.Data[1:])
			if err != nil {
				return fmt.Errorf("source %s: %w", s.name, err)
			}
			if err := s.handle(ctx, st, &ch, xld); err != nil {
				return err
			}
		}
	}
}

func (s *Source) handle(ctx context.Context, st *streamState, ch *chunker, xld pglogrepl.XLogData) error {
	if ok, err := parseDML(xld.WALData, &st.dml); ok {
		if err != nil {
			return retry.MarkPermanent(fmt.Errorf("source %s: decode pgoutput message at %s: %w", s.name, xld.WALStart, err))
		}
		return s.change(ctx, st, ch, xld, &st.dml)
	}
	m, err := pglogrepl.Parse(xld.WALData)
	if err != nil {
		return retry.MarkPermanent(fmt.Errorf("source %s: decode pgoutput message at %s: %w", s.name, xld.WALStart, err))
	}
	switch m := m.(type) {
	case *pglogrepl.RelationMessage:
		return s.relation(ctx, st, ch, m)
	case *pglogrepl.BeginMessage:
		st.inTxn = true
		st.commitLSN = uint64(m.FinalLSN)
		st.xid = m.Xid
		st.tsMs = m.CommitTime.UnixMilli()
		st.seq = 0
	case *pglogrepl.CommitMessage:
		st.inTxn = false
		st.lastEnd = uint64(m.TransactionEndLSN)
		s.lastCommit = m.CommitLSN
		if st.bf.high {
			if err := s.emitBackfill(ctx, st, ch, uint64(m.CommitLSN), st.tsMs); err != nil {
				return err
			}
		}
		for _, r := range st.requests {
			// A request at or before the start position is in it already.
			if m.CommitLSN > s.startPos.CommitLSN {
				s.backfillRequest(ctx, r)
			}
		}
		st.requests = nil
		ch.commit(s.position(m.CommitLSN, 0, m.TransactionEndLSN))
		if len(ch.recs) >= chunkRecords || time.Since(ch.started) >= chunkAge {
			if b, ok := ch.take(false); ok {
				return s.send(ctx, b)
			}
		}
	case *pglogrepl.LogicalDecodingMessage:
		switch m.Prefix {
		case msgWatermark:
			s.watermark(st, m.Content)
		case msgBackfill:
			st.requests = append(st.requests, append([]byte(nil), m.Content...))
		}
	case *pglogrepl.TruncateMessage:
		return s.truncate(st, ch, xld, m)
	}
	return nil
}

// truncate publishes a TRUNCATE of captured tables as op t, with no row, to
// every partition of each table's topic: every key before it is gone.
// N.B. pgoutput sends one message naming every table a TRUNCATE ... CASCADE
// reached; options (CASCADE, RESTART IDENTITY) change nothing downstream.
func (s *Source) truncate(st *streamState, ch *chunker, xld pglogrepl.XLogData, m *pglogrepl.TruncateMessage) error {
	for _, rel := range m.RelationIDs {
		enc := st.rels[rel]
		if enc == nil {
			continue // not captured
		}
		st.seq++
		p := srcPos{lsn: uint64(xld.WALStart), commitLSN: st.commitLSN, seq: st.seq, txid: st.xid, tsMs: st.tsMs}
		rec, buf, err := enc.encode(ch.room(), change.OpTruncate, nil, false, nil, p, time.Now().UnixMilli())
		ch.buf = buf
		if err != nil {
			return retry.MarkPermanent(fmt.Errorf("source %s: %w", s.name, err))
		}
		rec.AllPartitions = true
		ch.add(rec)
		s.log.Info("table truncated at the source", "table", enc.schema.Name(), "commit_lsn", pglogrepl.LSN(st.commitLSN))
	}
	return nil
}

func (s *Source) relation(ctx context.Context, st *streamState, ch *chunker, m *pglogrepl.RelationMessage) error {
	ti, ok := s.tables[m.RelationID]
	if !ok {
		return nil // not a captured table
	}
	cols := make([]change.Column, len(m.Columns))
	for i, c := range m.Columns {
		if _, ok := s.types[c.DataType]; !ok {
			var err error
			if s.types, err = loadTypes(ctx, s.conn); err != nil {
				return fmt.Errorf("source %s: %w", s.name, err)
			}
		}
		col, err := mapColumn(s.types, ti.name, c.Name, c.DataType, c.TypeModifier, s.textCols)
		if err != nil {
			return needsUser(fmt.Errorf("source %s: %w", s.name, err))
		}
		col.Key = ti.keys[c.Name]
		cols[i] = col
	}
	if err := s.numberColumns(ctx, ti, st.rels[m.RelationID], cols); err != nil {
		return err
	}
	enc := s.encoderFor(ti.name, cols)
	if old := st.rels[m.RelationID]; old != nil && old.schema.Fingerprint == enc.schema.Fingerprint {
		return nil
	}
	st.rels[m.RelationID] = enc
	if len(enc.keyIdx) == 0 {
		return needsUser(fmt.Errorf("source %s: table %s has no primary key columns in its new definition; add a primary key", s.name, ti.name))
	}
	s.log.Info("table schema", "table", ti.name.String(), "fingerprint", enc.schema.Fingerprint, "columns", len(cols))
	ch.add(enc.schemaRecord())
	return nil
}

// numberColumns sets each column's Attnum (the relation message has none):
// a column known under the same name keeps its number; the numbers of new
// names are read from pg_attribute, so a renamed column (its number under
// a new name) is told from a dropped and an added one. A renamed key
// column stays a key column. N.B. the catalog is read when the relation
// message is decoded, not when it was logged: a column renamed twice
// before Inlet reads the first relation message is seen renamed once, to
// its latest name; one dropped since reads as dropped and added.
func (s *Source) numberColumns(ctx context.Context, ti *tableInfo, prev *tableEnc, cols []change.Column) error {
	known := map[string]change.Column{}
	for _, c := range ti.columns {
		known[c.Name] = c
	}
	if prev != nil {
		for _, c := range prev.schema.Columns {
			name := c.Name
			if c.SourceName != "" {
				name = c.SourceName
			}
			c.Name = name
			known[name] = c
		}
	}
	var nums map[string]int
	for i := range cols {
		if k, ok := known[cols[i].Name]; ok && k.Attnum != 0 {
			cols[i].Attnum = k.Attnum
			continue
		}
		if nums == nil {
			var err error
			if nums, err = attnums(ctx, s.conn, ti.oid); err != nil {
				return fmt.Errorf("source %s: attribute numbers of %s: %w", s.name, ti.name, err)
			}
		}
		cols[i].Attnum = nums[cols[i].Name]
		for _, k := range known {
			if k.Attnum == cols[i].Attnum && k.Key && cols[i].Attnum != 0 {
				cols[i].Key = true
			}
		}
	}
	return nil
}

// dmlOps maps pgoutput message types to change ops.
var dmlOps = [256]byte{'I': change.OpCreate, 'U': change.OpUpdate, 'D': change.OpDelete}

func (s *Source) change(ctx context.Context, st *streamState, ch *chunker, xld pglogrepl.XLogData, m *dml) error {
	rel, op, before, after := m.rel, dmlOps[m.op], m.old, m.new
	enc := st.rels[rel]
	if enc == nil {
		if s.tables[rel] == nil {
			return nil // e.g. a table that moved to full_refresh but is still published
		}
		return fmt.Errorf("source %s: change for relation %d before its definition", s.name, rel)
	}
	st.seq++
	if st.bf.keys != nil && s.bf != nil && rel == s.bf.ti.oid {
		st.noteKey(enc, after)
		st.noteKey(enc, before)
	}
	p := srcPos{lsn: uint64(xld.WALStart), commitLSN: st.commitLSN, seq: st.seq, txid: st.xid, tsMs: st.tsMs}
	rec, buf, err := enc.encode(ch.room(), op, before, m.oldType == 'K', after, p, time.Now().UnixMilli())
	ch.buf = buf
	if err != nil {
		return retry.MarkPermanent(fmt.Errorf("source %s: %w", s.name, err))
	}
	ch.add(rec)
	if len(ch.recs) >= 2*chunkRecords {
		if b, ok := ch.take(true); ok {
			return s.send(ctx, b)
		}
	}
	return nil
}

func (s *Source) heartbeatEvery() time.Duration {
	if s.cfg.HeartbeatInterval > 0 {
		return time.Duration(s.cfg.HeartbeatInterval)
	}
	return 30 * time.Second
}

// heartbeat writes a tiny transactional logical message. It reaches the
// stream as its own BEGIN/COMMIT, whose position is committed to Kafka and
// then confirmed to the slot like any other: the slot moves past other
// tables' WAL even when no captured table changes (idle WAL is also
// confirmed directly, see stream). It also checks how much WAL the slot
// retains. A closed connection is reopened.
func (s *Source) heartbeat(ctx context.Context) error {
	err := s.heartbeatOnce(ctx)
	if err == nil || ctx.Err() != nil || !s.conn.IsClosed() {
		return err
	}
	// The connection was closed (its backend terminated, an idle timeout,
	// a proxy): open another, so heartbeats and type lookups go on while
	// the replication connection streams.
	cc, cerr := s.connConfig(false)
	if cerr != nil {
		return cerr
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, cerr := pgx.ConnectConfig(cctx, cc)
	cancel()
	if cerr != nil {
		return fmt.Errorf("%w; reopening the connection: %w", err, cerr)
	}
	s.conn.Close(context.Background())
	s.conn = conn
	s.log.Info("heartbeat connection was closed; reopened it", "err", err)
	return s.heartbeatOnce(ctx)
}

func (s *Source) heartbeatOnce(ctx context.Context) error {
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := s.conn.Exec(hctx, "SELECT pg_logical_emit_message(true, '"+msgHeartbeat+"', '')"); err != nil {
		return err
	}
	var retained int64
	if err := s.conn.QueryRow(hctx, `SELECT COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint FROM pg_replication_slots WHERE slot_name = $1`, s.cfg.Slot).Scan(&retained); err != nil {
		return err
	}
	limit := int64(s.cfg.MaxRetainedWALMB) << 20
	if limit > 0 && retained > limit {
		s.log.Warn("replication slot retains more WAL than max_retained_wal_mb; is the pipeline keeping up?", "slot", s.cfg.Slot, "retained_mb", retained>>20, "limit_mb", s.cfg.MaxRetainedWALMB)
	}
	return nil
}

// recvDeadline bounds receives with a read deadline on the replication
// connection, moved once per chunkAge rather than per message. Receives are
// given context.Background(): with a cancellable context pgconn registers
// and removes a callback around every receive (context.AfterFunc), which
// cost a tenth of Inlet's CPU at CDC rates. The stream loop checks its
// context itself, and a receive returns at the deadline at the latest.
type recvDeadline struct {
	conn  net.Conn
	until time.Time
}

// arm moves the deadline chunkAge ahead once it has passed.
func (d *recvDeadline) arm() {
	if now := time.Now(); !now.Before(d.until) {
		d.until = now.Add(chunkAge)
		d.conn.SetReadDeadline(d.until)
	}
}

// stop clears the deadline.
func (d *recvDeadline) stop() { d.conn.SetReadDeadline(time.Time{}) }
