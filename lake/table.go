package lake

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/lake/store"
)

// Table is one Delta table, with what its log says so far.
type Table struct {
	st      store.Store // the lake's store; the table's keys start with Name + "/"
	Name    string      // schema.table
	version int64       // last committed version; -1 when the table has no log
	txns    map[string]int64
	txnAt   map[string]int64 // lastUpdated of each txn appId
	columns []change.Column  // current Delta schema (without the partition column)
	ntz     bool
	// widened: the typeWidening feature is on; typeChanges are each
	// column's widenings so far (kept in the schema's field metadata).
	widened     bool
	typeChanges map[string][]typeChange
	// mapping is the column mapping (nil: none; see mapping.go).
	mapping *columnMapping
	// topicID is the Kafka topic id the txn versions were read from
	// (metaData configuration inlet.kafka.topicId); "" when unrecorded.
	topicID string
	fileTag string // confFileTag, set by Adopt
	id      string
	part    string // partition column
	rows    int64  // change rows in files the log added
	files   map[string]*addAction
	order   map[string]int64 // read order of each live file (log order)
	next    int64            // next read order
	rowsOf  map[string]int64 // numRecords of each file
	// tombs are the remove actions still remembered: files a retained
	// version may reference (see checkpoint.go for when they are dropped).
	tombs    map[string]*removeAction
	protocol *protocolAction
	meta     *metaDataAction
	// staged are written files of full refresh generations whose marker
	// has not arrived; the log lists them in commitInfo.inletStaged.
	staged map[uint64][]stagedFile
	// checkpoint is the version of the newest checkpoint known (-1: none);
	// replayed counts the log files the last open read (checkpoint
	// included).
	checkpoint int64
	replayed   int
	// oldest is the oldest version the log can still rebuild (-1: not
	// known yet), oldestMs its commit time.
	oldest, oldestMs int64
	ckptErr          error            // of the last checkpoint attempt
	clock            func() time.Time // nil: time.Now
}

func newTable(st store.Store, name string) *Table {
	return &Table{st: st, Name: name, version: -1, txns: map[string]int64{}, txnAt: map[string]int64{},
		files: map[string]*addAction{}, order: map[string]int64{}, rowsOf: map[string]int64{}, tombs: map[string]*removeAction{},
		staged: map[uint64][]stagedFile{}, checkpoint: -1, oldest: -1}
}

// stagedFile is a data file of a full refresh generation, not yet added.
type stagedFile struct {
	Gen uint64    `json:"gen"`
	Add addAction `json:"add"`
}

// logEntry is one line of a Delta commit file; one field is set.
type logEntry struct {
	Protocol   *protocolAction `json:"protocol,omitempty"`
	MetaData   *metaDataAction `json:"metaData,omitempty"`
	Txn        *txnAction      `json:"txn,omitempty"`
	Add        *addAction      `json:"add,omitempty"`
	Remove     *removeAction   `json:"remove,omitempty"`
	CommitInfo map[string]any  `json:"commitInfo,omitempty"`
}

type protocolAction struct {
	MinReaderVersion int      `json:"minReaderVersion"`
	MinWriterVersion int      `json:"minWriterVersion"`
	ReaderFeatures   []string `json:"readerFeatures,omitempty"`
	WriterFeatures   []string `json:"writerFeatures,omitempty"`
}

type metaDataAction struct {
	ID               string            `json:"id"`
	Name             string            `json:"name,omitempty"`
	Format           formatSpec        `json:"format"`
	SchemaString     string            `json:"schemaString"`
	PartitionColumns []string          `json:"partitionColumns"`
	Configuration    map[string]string `json:"configuration"`
	CreatedTime      int64             `json:"createdTime"`
	// InletColumns keeps Inlet's own column types (kinds, source types) so
	// the lake can be read back exactly; Delta readers ignore it.
	InletColumns []change.Column `json:"inletColumns,omitempty"`
}

type formatSpec struct {
	Provider string            `json:"provider"`
	Options  map[string]string `json:"options"`
}

type txnAction struct {
	AppID       string `json:"appId"`
	Version     int64  `json:"version"`
	LastUpdated int64  `json:"lastUpdated"`
}

// AddAction is a data file a commit adds.
type addAction struct {
	Path             string            `json:"path"`
	PartitionValues  map[string]string `json:"partitionValues"`
	Size             int64             `json:"size"`
	ModificationTime int64             `json:"modificationTime"`
	DataChange       bool              `json:"dataChange"`
	Stats            string            `json:"stats,omitempty"`
}

type removeAction struct {
	Path                 string            `json:"path"`
	DeletionTimestamp    int64             `json:"deletionTimestamp"`
	DataChange           bool              `json:"dataChange"`
	ExtendedFileMetadata bool              `json:"extendedFileMetadata,omitempty"`
	PartitionValues      map[string]string `json:"partitionValues,omitempty"`
	Size                 int64             `json:"size,omitempty"`
}

// logDir is where the table's log lives (for messages).
func (t *Table) logDir() string { return t.st.Location(t.Name + "/_delta_log") }

// key is the store key of a path relative to the table.
func (t *Table) key(rel string) string { return t.Name + "/" + rel }

// logKey is the store key of a file in the table's _delta_log.
func (t *Table) logKey(name string) string { return t.Name + "/_delta_log/" + name }

func logName(v int64) string { return fmt.Sprintf("%020d.json", v) }

// openTable reads the table's state: its newest readable checkpoint plus
// the JSON commits after it.
func openTable(st store.Store, name string) (*Table, error) {
	return openTableUpTo(st, name, -2)
}

// openTableUpTo reads the table's state as of version upTo (-2: the
// latest). It starts from the newest checkpoint at or before upTo that
// reads back whole; a missing, partial or corrupt checkpoint only means
// starting from an older one, or from version 0.
func openTableUpTo(st store.Store, name string, upTo int64) (*Table, error) {
	t := newTable(st, name)
	l, err := listLog(st, name)
	if err != nil {
		return nil, fmt.Errorf("lake table %s: %w", name, err)
	}
	if len(l.commits) == 0 && len(l.checkpoints) == 0 {
		return t, nil
	}
	oldest := l.oldest()
	if upTo != -2 && upTo < oldest && !(upTo == -1 && oldest == 0) {
		return nil, fmt.Errorf("lake table %s: version %d is no longer in the log (log retention removed it); the oldest version it can read is %d: %w", name, upTo, oldest, ErrTooOld)
	}
	start := int64(0)
	for i := len(l.checkpoints) - 1; i >= 0; i-- {
		c := l.checkpoints[i]
		if upTo != -2 && c > upTo {
			continue
		}
		ct := newTable(st, name)
		if err := ct.loadCheckpoint(c); errors.Is(err, ErrProtocol) {
			return nil, err
		} else if err != nil {
			continue // fall back to an older checkpoint
		}
		t, start = ct, c+1
		break
	}
	if t.version < 0 && (len(l.commits) == 0 || l.commits[0] != 0) {
		return nil, fmt.Errorf("lake table %s: _delta_log has no readable checkpoint and no version 0; restore it from backup or rebuild the table", name)
	}
	t.checkpoint = max(t.version, l.newestCheckpoint())
	t.oldest = oldest
	t.oldestMs = l.timeOf(oldest)
	for _, v := range l.commits {
		if v < start {
			continue
		}
		if upTo != -2 && v > upTo {
			break
		}
		if v != t.version+1 {
			return nil, fmt.Errorf("lake table %s: _delta_log is missing version %d; restore it from backup or rebuild the table", name, t.version+1)
		}
		if err := t.replay(v); err != nil {
			return nil, err
		}
		t.replayed++
	}
	return t, nil
}

// ErrProtocol means the table needs a newer Delta reader than Inlet.
var ErrProtocol = errors.New("unsupported Delta protocol")

// ErrTooOld means a version is older than the oldest the log keeps.
var ErrTooOld = errors.New("version older than the log keeps")

func (t *Table) replay(v int64) error {
	data, err := t.st.ReadAll(context.Background(), t.logKey(logName(v)))
	if err != nil {
		return fmt.Errorf("lake table %s: %w", t.Name, err)
	}
	return t.replayData(v, data)
}

// replayData applies the commit of version v, read as data.
func (t *Table) replayData(v int64, data []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var e logEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("lake table %s: version %d: %w", t.Name, v, err)
		}
		if e.CommitInfo != nil && !bytes.Contains(sc.Bytes(), []byte(`"inletStaged"`)) && !bytes.Contains(sc.Bytes(), []byte(`"inletRefreshed"`)) {
			continue
		}
		if err := t.apply(v, &e, sc.Bytes()); err != nil {
			return err
		}
	}
	t.version = v
	return sc.Err()
}

// apply applies one action of version v to the table's state; line is
// its JSON (needed for commitInfo only).
func (t *Table) apply(v int64, e *logEntry, line []byte) error {
	switch {
	case e.Protocol != nil:
		if e.Protocol.MinReaderVersion > 3 {
			return fmt.Errorf("lake table %s: needs Delta reader version %d; upgrade Inlet: %w", t.Name, e.Protocol.MinReaderVersion, ErrProtocol)
		}
		t.protocol = e.Protocol
		t.ntz = t.ntz || contains(e.Protocol.ReaderFeatures, "timestampNtz")
		t.widened = t.widened || contains(e.Protocol.ReaderFeatures, "typeWidening")
	case e.MetaData != nil:
		t.meta = e.MetaData
		t.id = e.MetaData.ID
		t.columns = e.MetaData.InletColumns
		t.typeChanges = typeChangesOf(e.MetaData.SchemaString)
		t.mapping = mappingOf(e.MetaData)
		t.topicID = e.MetaData.Configuration[confTopicID]
		t.fileTag = e.MetaData.Configuration[confFileTag]
		if len(e.MetaData.PartitionColumns) == 1 {
			t.part = e.MetaData.PartitionColumns[0]
		}
	case e.Txn != nil:
		t.txns[e.Txn.AppID] = e.Txn.Version
		t.txnAt[e.Txn.AppID] = e.Txn.LastUpdated
	case e.Remove != nil:
		if t.files[e.Remove.Path] != nil {
			t.rows -= t.rowsOf[e.Remove.Path]
		}
		delete(t.files, e.Remove.Path)
		delete(t.order, e.Remove.Path)
		delete(t.rowsOf, e.Remove.Path)
		t.tombs[e.Remove.Path] = e.Remove
	case e.Add != nil:
		n := numRecords(e.Add.Stats)
		if old := t.files[e.Add.Path]; old != nil {
			t.rows -= t.rowsOf[e.Add.Path]
		}
		t.files[e.Add.Path] = e.Add
		t.order[e.Add.Path] = t.next
		t.next++
		t.rows += n
		t.rowsOf[e.Add.Path] = n
		delete(t.tombs, e.Add.Path)
	case e.CommitInfo != nil:
		var ci struct {
			CommitInfo struct {
				Staged    []stagedFile `json:"inletStaged"`
				Refreshed *uint64      `json:"inletRefreshed"`
			} `json:"commitInfo"`
		}
		if line == nil {
			var err error
			if line, err = json.Marshal(e); err != nil {
				return err
			}
		}
		if err := json.Unmarshal(line, &ci); err != nil {
			return fmt.Errorf("lake table %s: version %d: %w", t.Name, v, err)
		}
		var markers []Marker
		if ci.CommitInfo.Refreshed != nil {
			markers = []Marker{{Gen: *ci.CommitInfo.Refreshed}}
		}
		t.stage(ci.CommitInfo.Staged, markers)
	}
	return nil
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// Follow replays the versions another process committed since the table
// was read, so a reader can follow a live table without re-reading its
// whole log. Only for tables this process does not write. A reader so far
// behind that log cleanup removed the next commit reads the table afresh
// from the newest checkpoint.
func (t *Table) Follow() error {
	for {
		v := t.version + 1
		data, err := t.st.ReadAll(context.Background(), t.logKey(logName(v)))
		if store.IsNotExist(err) {
			if c := t.readLastCheckpoint(); c >= v {
				nt, err := openTable(t.st, t.Name)
				if err != nil {
					return err
				}
				nt.clock = t.clock
				*t = *nt
			}
			return nil
		} else if err != nil {
			return fmt.Errorf("lake table %s: %w", t.Name, err)
		}
		if err := t.replayData(v, data); err != nil {
			return err
		}
	}
}

// CheckpointErr is the error of the last checkpoint this table's commits
// tried to write (nil: none failed). A failed checkpoint leaves the table
// whole; Maintain writes the next one.
func (t *Table) CheckpointErr() error { return t.ckptErr }

// Rows is the number of change rows in the files the log lists now.
func (t *Table) Rows() int64 { return t.rows }

// Version is the last committed version, -1 for a table with no log.
func (t *Table) Version() int64 { return t.version }

// TxnVersion returns the version the txn action of appID last recorded.
func (t *Table) TxnVersion(appID string) (int64, bool) {
	v, ok := t.txns[appID]
	return v, ok
}

// commit writes the next log version with put-if-absent semantics.
func (t *Table) commit(actions []logEntry) error {
	if dm, ok := t.st.(store.DirMaker); ok && t.version < 0 {
		// Only a new table gets its log directory made: an existing
		// table whose log is gone (storage failing, a volume not
		// mounted) must fail, not start a second history.
		if err := dm.MkdirAll(t.Name + "/_delta_log"); err != nil {
			return fmt.Errorf("lake table %s: %w", t.Name, err)
		}
	}
	var buf bytes.Buffer
	for _, a := range actions {
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	next := t.version + 1
	final := t.logKey(logName(next))
	// Put-if-absent (a link locally, If-None-Match: * on S3), so two
	// writers can never both commit one version.
	if err := t.st.PutIfAbsent(context.Background(), final, buf.Bytes()); err != nil {
		if errors.Is(err, store.ErrExist) {
			return fmt.Errorf("lake table %s: version %d was committed by another writer: %w", t.Name, next, ErrConflict)
		}
		return fmt.Errorf("lake table %s: commit version %d: %w", t.Name, next, err)
	}
	if tc, ok := t.st.(store.Toucher); ok && t.clock != nil {
		// An injected clock (tests) dates the version as log cleanup sees it.
		tc.Touch(final, t.clock())
	}
	if t.oldest < 0 {
		t.oldest, t.oldestMs = next, t.now().UnixMilli()
	}
	t.version = next
	for i := range actions {
		if actions[i].CommitInfo != nil {
			continue // staged files are recorded by the caller
		}
		if err := t.apply(next, &actions[i], nil); err != nil {
			return err
		}
	}
	return nil
}

// Txns returns the version of every txn appId.
func (t *Table) Txns() map[string]int64 {
	out := make(map[string]int64, len(t.txns))
	for k, v := range t.txns {
		out[k] = v
	}
	return out
}

// Files returns the data files the log currently lists (relative paths).
func (t *Table) Files() []string {
	out := make([]string, 0, len(t.files))
	for f := range t.files {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Dir is where the table lives: a local directory, or an
// s3://bucket/prefix/table URL.
func (t *Table) Dir() string { return t.st.Location(t.Name) }

// Stat returns the size and modification time of a file of the table
// (rel as Files returns it, or _delta_log/<name>).
func (t *Table) Stat(rel string) (size int64, mtime time.Time, err error) {
	e, err := t.st.Stat(context.Background(), t.key(rel))
	return e.Size, e.ModTime, err
}

// CommitTime is when version v was committed (its log file's
// modification time).
func (t *Table) CommitTime(v int64) (time.Time, error) {
	_, mt, err := t.Stat("_delta_log/" + logName(v))
	return mt, err
}

// removeOrphans deletes Parquet files that no log version lists and stray
// temp files of interrupted log commits: what a crash between writing
// files and committing the log leaves. Only a writer may call it (the
// engine, at start); with shared writers (several engines) it leaves
// Parquet files younger than an hour, which may be another engine's batch
// about to commit.
func (t *Table) removeOrphans(shared bool) ([]string, error) {
	var removed []string
	staged := map[string]bool{}
	for _, fs := range t.staged {
		for _, f := range fs {
			staged[f.Add.Path] = true
		}
	}
	ctx := context.Background()
	entries, err := t.st.List(ctx, t.Name+"/")
	if err != nil {
		return nil, fmt.Errorf("lake table %s: %w", t.Name, err)
	}
	for _, e := range entries {
		rel := strings.TrimPrefix(e.Key, t.Name+"/")
		name := path.Base(rel)
		// Removed files stay for time travel while a tombstone remembers them.
		known := t.files[rel] != nil || t.tombs[rel] != nil
		orphan := strings.HasSuffix(name, ".parquet") && !strings.HasPrefix(rel, "_delta_log/") && !known && !staged[rel]
		staleTmp := strings.HasPrefix(rel, "_delta_log/") && strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-")
		// Maintenance may be writing these right now (another goroutine):
		// they are left until they are an hour old (then vacuum, or this,
		// removes them).
		if (orphan && (shared || strings.HasPrefix(name, "part-compact-")) || staleTmp && (shared || strings.Contains(name, "checkpoint"))) && young(e) {
			continue
		}
		if orphan || staleTmp {
			if err := t.st.Delete(ctx, e.Key); err != nil {
				return removed, err
			}
			removed = append(removed, rel)
		}
	}
	return removed, nil
}

func young(e store.Entry) bool { return time.Since(e.ModTime) < minUnlistedAge }

// numRecords reads numRecords from an add action's stats (0 if absent).
func numRecords(stats string) int64 {
	var st struct {
		NumRecords int64 `json:"numRecords"`
	}
	json.Unmarshal([]byte(stats), &st)
	return st.NumRecords
}

// ErrConflict means another writer committed the version first.
var ErrConflict = errors.New("concurrent lake commit")

func randHex() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (t *Table) now() time.Time {
	if t.clock != nil {
		return t.clock()
	}
	return time.Now()
}

// stage records newly staged files and drops the generations markers
// closed; an older generation that never got its marker (its refresh was
// interrupted) is dropped when a newer one is staged.
func (t *Table) stage(files []stagedFile, markers []Marker) {
	for _, f := range files {
		for g := range t.staged {
			if g < f.Gen {
				delete(t.staged, g)
			}
		}
		t.staged[f.Gen] = append(t.staged[f.Gen], f)
	}
	for _, m := range markers {
		for g := range t.staged {
			if g <= m.Gen {
				delete(t.staged, g)
			}
		}
	}
}

// swaps returns the actions that replace the table's files with the
// generation of the last marker: its staged files (earlier commits' and
// this one's). Every marker's row count is checked against its files.
func (t *Table) swaps(staged []stagedFile, markers []Marker, now int64) ([]logEntry, error) {
	if len(markers) == 0 {
		return nil, nil
	}
	var files []addAction
	for _, m := range markers {
		files = files[:0]
		var rows int64
		for _, f := range append(append([]stagedFile(nil), t.staged[m.Gen]...), staged...) {
			if f.Gen == m.Gen {
				files = append(files, f.Add)
				rows += numRecords(f.Add.Stats)
			}
		}
		if rows != m.Rows {
			return nil, fmt.Errorf("lake table %s: full refresh %d has %d rows staged but its source sent %d; rows went missing between Kafka and the lake (run inlet replay --sink lake)", t.Name, m.Gen, rows, m.Rows)
		}
	}
	var actions []logEntry
	for _, f := range t.Files() {
		actions = append(actions, logEntry{Remove: &removeAction{Path: f, DeletionTimestamp: now, DataChange: true}})
	}
	for i := range files {
		actions = append(actions, logEntry{Add: &files[i]})
	}
	return actions, nil
}
