package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/inlet-dev/inlet/lake/store"
)

// A checkpoint is the table's whole state at one version in one Parquet
// file, _delta_log/<version>.checkpoint.parquet, in the schema of the
// Delta protocol's classic checkpoints: one row per action, with exactly
// one of the columns txn, add, remove, metaData, protocol set.
//
// N.B. A checkpoint is an optimisation, never the truth: the JSON commits
// stay until log cleanup removes those before a checkpoint known to read
// back whole. A checkpoint is written under a temp name and renamed, so a
// reader sees all of it or nothing; one that fails to read (truncated,
// corrupt) is skipped for the previous one, or for the JSON commits from
// version 0. See https://github.com/delta-io/delta/blob/master/PROTOCOL.md#checkpoints
//
// Inlet keeps two things of its own in the metaData row, as JSON strings
// Delta readers ignore: inletColumns (Inlet's column types, as the JSON
// metaData carries them) and inletStaged (the files of a full refresh
// generation waiting for its marker, which JSON commits keep in
// commitInfo, an action checkpoints do not carry).

type ckptRow struct {
	Txn      *ckptTxn      `parquet:"txn,optional"`
	Add      *ckptAdd      `parquet:"add,optional"`
	Remove   *ckptRemove   `parquet:"remove,optional"`
	MetaData *ckptMetaData `parquet:"metaData,optional"`
	Protocol *ckptProtocol `parquet:"protocol,optional"`
}

type ckptTxn struct {
	AppID       string `parquet:"appId"`
	Version     int64  `parquet:"version"`
	LastUpdated int64  `parquet:"lastUpdated,optional"`
}

type ckptAdd struct {
	Path             string            `parquet:"path"`
	PartitionValues  map[string]string `parquet:"partitionValues"`
	Size             int64             `parquet:"size"`
	ModificationTime int64             `parquet:"modificationTime"`
	DataChange       bool              `parquet:"dataChange"`
	Stats            string            `parquet:"stats,optional"`
}

type ckptRemove struct {
	Path                 string            `parquet:"path"`
	DeletionTimestamp    int64             `parquet:"deletionTimestamp,optional"`
	DataChange           bool              `parquet:"dataChange"`
	ExtendedFileMetadata bool              `parquet:"extendedFileMetadata,optional"`
	PartitionValues      map[string]string `parquet:"partitionValues,optional"`
	Size                 int64             `parquet:"size,optional"`
}

type ckptFormat struct {
	Provider string            `parquet:"provider"`
	Options  map[string]string `parquet:"options,optional"`
}

type ckptMetaData struct {
	ID               string            `parquet:"id"`
	Name             string            `parquet:"name,optional"`
	Description      string            `parquet:"description,optional"`
	Format           ckptFormat        `parquet:"format"`
	SchemaString     string            `parquet:"schemaString"`
	PartitionColumns []string          `parquet:"partitionColumns,list"`
	Configuration    map[string]string `parquet:"configuration"`
	CreatedTime      int64             `parquet:"createdTime,optional"`
	InletColumns     string            `parquet:"inletColumns,optional"`
	InletStaged      string            `parquet:"inletStaged,optional"`
}

type ckptProtocol struct {
	MinReaderVersion int32    `parquet:"minReaderVersion"`
	MinWriterVersion int32    `parquet:"minWriterVersion"`
	ReaderFeatures   []string `parquet:"readerFeatures,list,optional"`
	WriterFeatures   []string `parquet:"writerFeatures,list,optional"`
}

// lastCheckpoint is _delta_log/_last_checkpoint: a hint to the newest
// checkpoint. Readers must not trust it further than the file it names.
type lastCheckpoint struct {
	Version       int64 `json:"version"`
	Size          int64 `json:"size"`
	SizeInBytes   int64 `json:"sizeInBytes,omitempty"`
	NumOfAddFiles int64 `json:"numOfAddFiles,omitempty"`
}

func checkpointName(v int64) string { return fmt.Sprintf("%020d.checkpoint.parquet", v) }

// logListing is what _delta_log holds: JSON commit versions and
// checkpoint versions, each ascending, with their modification times.
type logListing struct {
	commits     []int64
	checkpoints []int64
	times       map[int64]int64 // version → modification time (ms) of its JSON commit, else its checkpoint
	staleTmps   []string        // temp files of interrupted commits and checkpoints, an hour old or more
}

// listLog lists the _delta_log of table name (empty: no log).
func listLog(st store.Store, name string) (*logListing, error) {
	entries, err := st.List(context.Background(), name+"/_delta_log/")
	if err != nil {
		return nil, err
	}
	l := &logListing{times: map[int64]int64{}}
	for _, e := range entries {
		n := path.Base(e.Key)
		if path.Dir(e.Key) != name+"/_delta_log" {
			continue
		}
		if strings.HasPrefix(n, ".") && strings.Contains(n, ".tmp-") && !young(e) {
			l.staleTmps = append(l.staleTmps, n)
			continue
		}
		if strings.HasPrefix(n, ".") || len(n) < 20 {
			continue
		}
		v, err := strconv.ParseInt(n[:20], 10, 64)
		if err != nil {
			continue
		}
		var isCommit bool
		switch n[20:] {
		case ".json":
			l.commits = append(l.commits, v)
			isCommit = true
		case ".checkpoint.parquet":
			l.checkpoints = append(l.checkpoints, v)
		default:
			continue
		}
		if _, ok := l.times[v]; !ok || isCommit {
			l.times[v] = e.ModTime.UnixMilli()
		}
	}
	sort.Slice(l.commits, func(i, j int) bool { return l.commits[i] < l.commits[j] })
	sort.Slice(l.checkpoints, func(i, j int) bool { return l.checkpoints[i] < l.checkpoints[j] })
	return l, nil
}

// oldest is the oldest version the log can rebuild: 0 while version 0's
// commit is there, else the oldest checkpoint.
func (l *logListing) oldest() int64 {
	if len(l.commits) > 0 && l.commits[0] == 0 {
		return 0
	}
	if len(l.checkpoints) > 0 {
		return l.checkpoints[0]
	}
	if len(l.commits) > 0 { // a broken log: open says so
		return l.commits[0]
	}
	return -1
}

func (l *logListing) newestCheckpoint() int64 {
	if len(l.checkpoints) == 0 {
		return -1
	}
	return l.checkpoints[len(l.checkpoints)-1]
}

func (l *logListing) latest() int64 {
	v := l.newestCheckpoint()
	if len(l.commits) > 0 {
		v = max(v, l.commits[len(l.commits)-1])
	}
	return v
}

func (l *logListing) timeOf(v int64) int64 { return l.times[v] }

// loadCheckpoint sets an empty table's state from the checkpoint of
// version v. Any error (missing, truncated, not the protocol's schema,
// without protocol or metaData) means: use another checkpoint.
func (t *Table) loadCheckpoint(v int64) error {
	f, err := t.st.Open(context.Background(), t.logKey(checkpointName(v)))
	if err != nil {
		return err
	}
	defer f.Close()
	pf, err := parquet.OpenFile(f, f.Size())
	if err != nil {
		return err
	}
	r := parquet.NewGenericReader[ckptRow](pf)
	defer r.Close()
	buf := make([]ckptRow, 512)
	for {
		n, err := r.Read(buf)
		for i := range buf[:n] {
			if err := t.applyCheckpointRow(v, &buf[i]); err != nil {
				return err
			}
			buf[i] = ckptRow{}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if t.protocol == nil || t.meta == nil {
		return fmt.Errorf("checkpoint %d has no protocol or metaData", v)
	}
	t.version = v
	t.checkpoint = v
	t.replayed = 1
	return nil
}

func (t *Table) applyCheckpointRow(v int64, r *ckptRow) error {
	var e logEntry
	switch {
	case r.Protocol != nil:
		e.Protocol = &protocolAction{MinReaderVersion: int(r.Protocol.MinReaderVersion), MinWriterVersion: int(r.Protocol.MinWriterVersion),
			ReaderFeatures: r.Protocol.ReaderFeatures, WriterFeatures: r.Protocol.WriterFeatures}
	case r.MetaData != nil:
		m := r.MetaData
		md := &metaDataAction{ID: m.ID, Name: m.Name, Format: formatSpec{Provider: m.Format.Provider, Options: nonNil(m.Format.Options)},
			SchemaString: m.SchemaString, PartitionColumns: m.PartitionColumns, Configuration: nonNil(m.Configuration), CreatedTime: m.CreatedTime}
		if m.InletColumns != "" {
			if err := json.Unmarshal([]byte(m.InletColumns), &md.InletColumns); err != nil {
				return fmt.Errorf("checkpoint %d: inletColumns: %w", v, err)
			}
		}
		if m.InletStaged != "" {
			var staged []stagedFile
			if err := json.Unmarshal([]byte(m.InletStaged), &staged); err != nil {
				return fmt.Errorf("checkpoint %d: inletStaged: %w", v, err)
			}
			t.stage(staged, nil)
		}
		e.MetaData = md
	case r.Txn != nil:
		e.Txn = &txnAction{AppID: r.Txn.AppID, Version: r.Txn.Version, LastUpdated: r.Txn.LastUpdated}
	case r.Add != nil:
		a := r.Add
		e.Add = &addAction{Path: a.Path, PartitionValues: nonNil(a.PartitionValues), Size: a.Size, ModificationTime: a.ModificationTime,
			DataChange: a.DataChange, Stats: a.Stats}
	case r.Remove != nil:
		x := r.Remove
		e.Remove = &removeAction{Path: x.Path, DeletionTimestamp: x.DeletionTimestamp, DataChange: x.DataChange,
			ExtendedFileMetadata: x.ExtendedFileMetadata, PartitionValues: x.PartitionValues, Size: x.Size}
	default:
		return nil
	}
	return t.apply(v, &e, nil)
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// tombstoneHorizon is the deletion time (ms) before which a remove
// tombstone may be forgotten: its file is referenced by no version the log
// still keeps (removed before the oldest one) and was removed longer than
// the deleted file retention ago. -1: keep every tombstone.
func (t *Table) tombstoneHorizon(now time.Time, o *Options) int64 {
	if t.oldest < 0 {
		return -1
	}
	return min(now.Add(-o.DeletedFileRetention).UnixMilli(), t.oldestMs)
}

// writeCheckpoint writes the checkpoint of the table's current version and
// points _last_checkpoint at it. Tombstones older than the horizon are
// dropped from the checkpoint and from memory.
func (t *Table) writeCheckpoint(now time.Time, o *Options) error {
	if t.version < 0 || t.protocol == nil || t.meta == nil {
		return nil
	}
	v := t.version
	rows := make([]ckptRow, 0, 2+len(t.txns)+len(t.files)+len(t.tombs))
	p := t.protocol
	rows = append(rows, ckptRow{Protocol: &ckptProtocol{MinReaderVersion: int32(p.MinReaderVersion), MinWriterVersion: int32(p.MinWriterVersion),
		ReaderFeatures: p.ReaderFeatures, WriterFeatures: p.WriterFeatures}})
	m := t.meta
	cm := &ckptMetaData{ID: m.ID, Name: m.Name, Format: ckptFormat{Provider: m.Format.Provider, Options: m.Format.Options},
		SchemaString: m.SchemaString, PartitionColumns: m.PartitionColumns, Configuration: nonNil(m.Configuration), CreatedTime: m.CreatedTime}
	if cm.PartitionColumns == nil {
		cm.PartitionColumns = []string{}
	}
	if len(m.InletColumns) > 0 {
		b, err := json.Marshal(m.InletColumns)
		if err != nil {
			return err
		}
		cm.InletColumns = string(b)
	}
	var staged []stagedFile
	gens := make([]uint64, 0, len(t.staged))
	for g := range t.staged {
		gens = append(gens, g)
	}
	sort.Slice(gens, func(i, j int) bool { return gens[i] < gens[j] })
	for _, g := range gens {
		staged = append(staged, t.staged[g]...)
	}
	if len(staged) > 0 {
		b, err := json.Marshal(staged)
		if err != nil {
			return err
		}
		cm.InletStaged = string(b)
	}
	rows = append(rows, ckptRow{MetaData: cm})
	apps := make([]string, 0, len(t.txns))
	for a := range t.txns {
		apps = append(apps, a)
	}
	sort.Strings(apps)
	for _, a := range apps {
		rows = append(rows, ckptRow{Txn: &ckptTxn{AppID: a, Version: t.txns[a], LastUpdated: t.txnAt[a]}})
	}
	// Live files in read order, so the order survives the checkpoint.
	files := t.Files()
	sort.SliceStable(files, func(i, j int) bool { return t.order[files[i]] < t.order[files[j]] })
	for _, f := range files {
		a := t.files[f]
		rows = append(rows, ckptRow{Add: &ckptAdd{Path: a.Path, PartitionValues: nonNil(a.PartitionValues), Size: a.Size,
			ModificationTime: a.ModificationTime, DataChange: a.DataChange, Stats: a.Stats}})
	}
	horizon := t.tombstoneHorizon(now, o)
	tombs := make([]string, 0, len(t.tombs))
	for f, r := range t.tombs {
		if r.DeletionTimestamp < horizon {
			delete(t.tombs, f)
			continue
		}
		tombs = append(tombs, f)
	}
	sort.Strings(tombs)
	for _, f := range tombs {
		r := t.tombs[f]
		rows = append(rows, ckptRow{Remove: &ckptRemove{Path: r.Path, DeletionTimestamp: r.DeletionTimestamp, DataChange: r.DataChange,
			ExtendedFileMetadata: r.ExtendedFileMetadata, PartitionValues: r.PartitionValues, Size: r.Size}})
	}

	// Written whole or not at all (a temp file renamed locally; an S3 PUT
	// is atomic).
	final := t.logKey(checkpointName(v))
	size, err := writeCheckpointFile(t.st, final, rows)
	if err != nil {
		return fmt.Errorf("lake table %s: checkpoint %d: %w", t.Name, v, err)
	}
	if tc, ok := t.st.(store.Toucher); ok && o.Now != nil {
		tc.Touch(final, now)
	}
	if t.readLastCheckpoint() >= v {
		// A newer checkpoint was written meanwhile (the writer's and
		// Maintain's can race): the hint never moves back.
		t.checkpoint = v
		return nil
	}
	last, _ := json.Marshal(lastCheckpoint{Version: v, Size: int64(len(rows)), SizeInBytes: size, NumOfAddFiles: int64(len(files))})
	if err := writeFileAtomic(t.st, t.logKey("_last_checkpoint"), last); err != nil {
		return fmt.Errorf("lake table %s: _last_checkpoint: %w", t.Name, err)
	}
	t.checkpoint = v
	return nil
}

func writeCheckpointFile(st store.Store, key string, rows []ckptRow) (int64, error) {
	f, err := st.Create(context.Background(), key, true)
	if err != nil {
		return 0, err
	}
	defer f.Abort()
	w := parquet.NewGenericWriter[ckptRow](f, parquet.Compression(snappyCodec), parquet.CreatedBy("inlet", "0.1", ""))
	for i := 0; i < len(rows); i += 1024 {
		if _, err := w.Write(rows[i:min(i+1024, len(rows))]); err != nil {
			return 0, err
		}
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return f.Commit()
}

// writeFileAtomic replaces key with data, whole or not at all (locally:
// temp file, fsync, rename, fsync of the directory).
func writeFileAtomic(st store.Store, key string, data []byte) error {
	w, err := st.Create(context.Background(), key, true)
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := w.Write(data); err != nil {
		return err
	}
	_, err = w.Commit()
	return err
}

// readLastCheckpoint returns the version _last_checkpoint names (-1: none
// or unreadable).
func (t *Table) readLastCheckpoint() int64 {
	b, err := t.st.ReadAll(context.Background(), t.logKey("_last_checkpoint"))
	if err != nil {
		return -1
	}
	var lc lastCheckpoint
	if json.Unmarshal(b, &lc) != nil {
		return -1
	}
	return lc.Version
}
