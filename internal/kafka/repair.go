package kafka

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/inlet-dev/inlet/internal/fsutil"
)

// The embedded broker (kfake) keeps each partition as segments: <base>.dat
// holds record batches back to back (Kafka's wire format: base offset,
// int64; length, int32; then length bytes), and <base>.idx one 15-byte
// entry per batch, positionally: version, checksum (low byte of the
// CRC-32C of the 13 bytes after it), leader epoch (int32 LE), max earlier
// timestamp (int64 LE, recomputed on load), flags (bit 0: the batch was
// written inside an open transaction).
//
// Its recovery after a kill (the embedded broker dies with `inlet run`)
// has three gaps, each seen in the crash test as changes lost or served
// twice:
//
//   - A batch is appended with two writes, .dat then .idx. Killed between
//     them, the batch has no entry and is read as written outside any
//     transaction: records of a transaction that never committed are
//     served as committed. The next batch appended takes the missing
//     entry's place, every later batch reads its successor's flags, and
//     the records flip back to aborted on a later start.
//   - Killed inside the .dat write, part of a batch is left; kfake stops
//     reading there but appends after it, so what follows is lost on the
//     next start.
//   - A transaction open at the kill gets no marker. kfake treats it as
//     aborted while nothing follows, but it matches markers to batches by
//     producer id alone: when the producer's successor (same transactional
//     id, same producer id) commits, the dead transaction's records are
//     read as part of that commit on the next start.
//
// repairLog closes them before kfake reads the directory, the way a Kafka
// broker and transaction coordinator recover: a missing index entry is
// rebuilt from its batch's header (leader epoch; in a transaction when the
// batch is transactional and not a marker, as kfake writes them), a
// partial batch at a segment's end (never acknowledged) is cut off, and
// every transaction left open gets its marker appended: COMMIT when a
// COMMIT of the same producer id and epoch is in another partition (the
// kill fell while kfake wrote a commit's markers), else ABORT — unless the
// broker last stopped cleanly (kfake then saved the transactions in
// progress, session_state.json, and restores them for their producers to
// end). It returns what it repaired.
func repairLog(dir string) ([]string, error) {
	parts, err := filepath.Glob(filepath.Join(dir, "partitions", "*"))
	if err != nil {
		return nil, err
	}
	var done []string
	var logs []*partLog
	commits := map[txnKey]int64{} // latest COMMIT marker's timestamp
	for _, p := range parts {
		pl, what, err := scanPartition(p)
		if err != nil {
			return done, fmt.Errorf("repair %s: %w", p, err)
		}
		done = append(done, what...)
		if pl != nil {
			logs = append(logs, pl)
			for k, ts := range pl.commits {
				commits[k] = max(commits[k], ts)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "session_state.json")); err == nil {
		// A clean shutdown: kfake saved the transactions in progress and
		// restores them, for their producers to end.
		return done, nil
	}
	for _, pl := range logs {
		if len(pl.open) == 0 {
			continue
		}
		pids := make([]int64, 0, len(pl.open))
		for pid := range pl.open {
			pids = append(pids, pid)
		}
		sort.Slice(pids, func(i, j int) bool { return pids[i] < pids[j] })
		for _, pid := range pids {
			o := pl.open[pid]
			epoch := o.epoch
			// The same producer id and epoch (one transaction each since
			// KIP-890; several for older producers), committed no earlier
			// than this transaction began.
			ts, ok := commits[txnKey{pid, epoch}]
			commit := ok && ts >= o.since
			if err := pl.appendMarker(pid, epoch, commit); err != nil {
				return done, fmt.Errorf("repair %s: %w", pl.dir, err)
			}
			kind := "ABORT"
			if commit {
				kind = "COMMIT"
			}
			done = append(done, fmt.Sprintf("%s: %s marker for the transaction of producer %d (epoch %d) left open", filepath.Base(pl.dir), kind, pid, epoch))
		}
	}
	return done, nil
}

type txnKey struct {
	pid   int64
	epoch int16
}

// openTxn is a transaction's epoch and its first batch's timestamp.
type openTxn struct {
	epoch int16
	since int64
}

// partLog is what repairLog learned of one partition.
type partLog struct {
	dir     string
	last    string            // its last segment
	next    int64             // the offset after its last batch
	epoch   int32             // leader epoch of its last batch
	open    map[int64]openTxn // by producer id: a transaction with no marker after it
	commits map[txnKey]int64  // COMMIT markers: their latest timestamp
}

// Batch header layout (Kafka's RecordBatch, magic 2).
const (
	hdrLen       = 61
	idxEntry     = 15
	attrTxn      = 0x10
	attrControl  = 0x20
	offLength    = 8
	offEpoch     = 12
	offAttrs     = 21
	offLastDelta = 23
	offFirstTS   = 27
	offMaxTS     = 35
	offPID       = 43
	offPEpoch    = 51
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func segBase(path string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSuffix(filepath.Base(path), ".dat"), 10, 64)
	return n
}

// scanPartition repairs the segments of the partition in dir and reads the
// transaction state at its end (headers only, and the markers).
func scanPartition(dir string) (*partLog, []string, error) {
	segs, err := filepath.Glob(filepath.Join(dir, "*.dat"))
	if err != nil || len(segs) == 0 {
		return nil, nil, err
	}
	sort.Slice(segs, func(i, j int) bool { return segBase(segs[i]) < segBase(segs[j]) })
	pl := &partLog{dir: dir, last: segs[len(segs)-1], open: map[int64]openTxn{}, commits: map[txnKey]int64{}}
	var done []string
	for _, seg := range segs {
		what, err := pl.scanSegment(seg)
		if err != nil {
			return nil, done, err
		}
		if what != "" {
			done = append(done, filepath.Base(dir)+"/"+filepath.Base(seg)+": "+what)
		}
	}
	return pl, done, nil
}

// scanSegment reads one segment's batch headers, cuts a partial batch at
// its end, adds missing index entries, and follows transactions.
func (pl *partLog) scanSegment(seg string) (string, error) {
	f, err := os.Open(seg)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	size := st.Size()
	var hdrs [][]byte
	var pos int64
	for pos+hdrLen <= size {
		h := make([]byte, hdrLen)
		if _, err := f.ReadAt(h, pos); err != nil && err != io.EOF {
			return "", err
		}
		n := int64(int32(binary.BigEndian.Uint32(h[offLength:])))
		if n < hdrLen-12 || pos+12+n > size {
			break
		}
		attrs := binary.BigEndian.Uint16(h[offAttrs:])
		pid := int64(binary.BigEndian.Uint64(h[offPID:]))
		pepoch := int16(binary.BigEndian.Uint16(h[offPEpoch:]))
		switch {
		case attrs&attrControl != 0:
			b := make([]byte, 12+n)
			if _, err := f.ReadAt(b, pos); err != nil && err != io.EOF {
				return "", err
			}
			if controlCommit(b) {
				k := txnKey{pid, pepoch}
				pl.commits[k] = max(pl.commits[k], int64(binary.BigEndian.Uint64(h[offMaxTS:])))
			}
			delete(pl.open, pid)
		case attrs&attrTxn != 0:
			if _, ok := pl.open[pid]; !ok {
				pl.open[pid] = openTxn{epoch: pepoch, since: int64(binary.BigEndian.Uint64(h[offFirstTS:]))}
			}
		}
		pl.next = int64(binary.BigEndian.Uint64(h)) + int64(binary.BigEndian.Uint32(h[offLastDelta:])) + 1
		pl.epoch = int32(binary.BigEndian.Uint32(h[offEpoch:]))
		hdrs = append(hdrs, h)
		pos += 12 + n
	}
	var what []string
	if pos < size {
		if err := os.Truncate(seg, pos); err != nil {
			return "", err
		}
		what = append(what, fmt.Sprintf("cut a partial batch of %d bytes", size-pos))
	}
	idxPath := strings.TrimSuffix(seg, ".dat") + ".idx"
	idx, err := os.ReadFile(idxPath)
	if err != nil && !os.IsNotExist(err) {
		return "", err
	}
	if whole := len(idx) / idxEntry * idxEntry; whole < len(idx) {
		if err := os.Truncate(idxPath, int64(whole)); err != nil {
			return "", err
		}
		idx = idx[:whole]
		what = append(what, "cut a partial index entry")
	}
	if have := len(idx) / idxEntry; have < len(hdrs) {
		version := byte(1)
		if have > 0 {
			version = idx[0]
		}
		var add []byte
		for _, h := range hdrs[have:] {
			add = append(add, indexEntryFor(h, version)...)
		}
		if err := fsutil.AppendSync(idxPath, add); err != nil {
			return "", err
		}
		what = append(what, fmt.Sprintf("added %d missing index entries", len(hdrs)-have))
	}
	return strings.Join(what, "; "), nil
}

// controlCommit reports whether the control batch b is a COMMIT marker.
func controlCommit(b []byte) bool {
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b); err != nil {
		return false
	}
	var r kmsg.Record
	if err := r.ReadFrom(rb.Records); err != nil || len(r.Key) < 4 {
		return false
	}
	return binary.BigEndian.Uint16(r.Key[2:4]) == uint16(kmsg.ControlRecordKeyTypeCommit)
}

// indexEntryFor is the index entry kfake writes for the batch whose header
// is h: its leader epoch, and in a transaction when transactional and not
// a marker.
func indexEntryFor(h []byte, version byte) []byte {
	e := make([]byte, idxEntry)
	e[0] = version
	binary.LittleEndian.PutUint32(e[2:6], binary.BigEndian.Uint32(h[offEpoch:]))
	if attrs := binary.BigEndian.Uint16(h[offAttrs:]); attrs&attrTxn != 0 && attrs&attrControl == 0 {
		e[14] = 1
	}
	e[1] = byte(crc32.Checksum(e[2:], castagnoli))
	return e
}

// appendMarker appends a transaction marker for pid to the partition's
// last segment (and its index entry), at the partition's next offset.
func (pl *partLog) appendMarker(pid int64, epoch int16, commit bool) error {
	key := kmsg.ControlRecordKey{Type: kmsg.ControlRecordKeyTypeAbort}
	if commit {
		key.Type = kmsg.ControlRecordKeyTypeCommit
	}
	marker := kmsg.EndTxnMarker{}
	rec := kmsg.Record{Key: key.AppendTo(nil), Value: marker.AppendTo(nil)}
	rec.Length = int32(len(rec.AppendTo(nil)) - 1) // the length's own varint is one byte
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		FirstOffset:          pl.next,
		PartitionLeaderEpoch: pl.epoch,
		Magic:                2,
		Attributes:           attrTxn | attrControl,
		FirstTimestamp:       now,
		MaxTimestamp:         now,
		ProducerID:           pid,
		ProducerEpoch:        epoch,
		FirstSequence:        -1,
		NumRecords:           1,
		Records:              rec.AppendTo(nil),
	}
	enc := b.AppendTo(nil)
	b.Length = int32(len(enc) - 12)
	b.CRC = int32(crc32.Checksum(enc[21:], castagnoli))
	enc = b.AppendTo(nil)
	version := byte(1)
	idxPath := strings.TrimSuffix(pl.last, ".dat") + ".idx"
	if idx, err := os.ReadFile(idxPath); err == nil && len(idx) > 0 {
		version = idx[0]
	}
	if err := fsutil.AppendSync(pl.last, enc); err != nil {
		return err
	}
	if err := fsutil.AppendSync(idxPath, indexEntryFor(enc[:hdrLen], version)); err != nil {
		return err
	}
	pl.next++
	return nil
}

// fetchWholePartitions closes a read_committed gap in kfake's Fetch: when
// a response reaches the request's MaxBytes part way through a partition,
// kfake returns that partition's batches without its list of aborted
// transactions, so the client keeps records of an aborted transaction as
// committed (in the crash test: a sink applied them, and skipped their
// republished copies as already held). A read_committed fetch is answered
// as if it had no overall limit: each partition then ends at its own
// limit (which computes the list), and a response holds at most one
// partition limit per partition, plus one batch where a batch is larger.
// It is an observer: the request then goes through kfake as usual.
func fetchWholePartitions(c *kfake.Cluster) {
	c.ControlKey(int16(kmsg.Fetch), func(r kmsg.Request) (kmsg.Response, error, bool) {
		if req, ok := r.(*kmsg.FetchRequest); ok && req.IsolationLevel == 1 {
			req.MaxBytes = math.MaxInt32
		}
		return nil, nil, false
	})
}
