package lake

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/internal/failpoint"
	"github.com/inlet-dev/inlet/lake/store"
)

// Lake is a directory of Delta tables.
type Lake struct {
	st       store.Store
	pipeline string
	opts     Options
	mu       sync.Mutex
	tables   map[string]*Table
	seen     map[string]int64 // highest version this process saw, per table
	// oldest holds, per table, the oldest version log cleanup kept and its
	// time ([2]int64), for the writer's next checkpoint.
	oldest sync.Map
	heavy  map[string]time.Time // per table, the last log cleanup and vacuum by Maintain (under mu)
}

// Open returns the lake rooted at root (a local directory), with the
// default maintenance options.
func Open(root, pipeline string) (*Lake, error) {
	return OpenWith(root, pipeline, Options{})
}

// OpenWith returns the lake rooted at root with the given maintenance
// options (zero fields take their defaults).
func OpenWith(root, pipeline string, o Options) (*Lake, error) {
	st, err := store.NewLocal(root)
	if err != nil {
		return nil, err
	}
	return OpenStore(st, pipeline, o), nil
}

// OpenStore returns the lake whose files live in st (a local directory or
// an S3 bucket) with the given maintenance options.
func OpenStore(st store.Store, pipeline string, o Options) *Lake {
	return &Lake{st: st, pipeline: pipeline, opts: o.withDefaults(), tables: map[string]*Table{}}
}

// Root is where the lake lives: its directory, or s3://bucket/prefix.
func (l *Lake) Root() string { return strings.TrimSuffix(l.st.Location(""), "/") }

// Store is where the lake's files live.
func (l *Lake) Store() store.Store { return l.st }

// Table returns the named table (schema.table), replaying its log once.
func (l *Lake) Table(name string) (*Table, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.tables[name]; ok {
		return t, nil
	}
	t, err := openTable(l.st, name)
	if err != nil {
		return nil, err
	}
	// A table this process saw at version v cannot go back: its log is
	// missing or cut short (storage failing, a volume unmounted, files
	// removed behind Inlet's back). Writing now would start a second
	// history, so refuse until the log is back.
	if seen, ok := l.seen[name]; ok && t.version < seen {
		return nil, fmt.Errorf("lake table %s: its log reads as version %d but was at %d; refusing to write until %s is whole again (storage unavailable?)",
			name, t.version, seen, t.logDir())
	}
	t.clock = l.opts.Now
	l.tables[name] = t
	l.noteSeen(name, t.version)
	return t, nil
}

// noteSeen records the highest version of a table this process saw.
// Callers hold l.mu.
func (l *Lake) noteSeen(name string, v int64) {
	if l.seen == nil {
		l.seen = map[string]int64{}
	}
	if cur, ok := l.seen[name]; !ok || v > cur {
		l.seen[name] = v
	}
}

// RemoveOrphans deletes the files of a table that its log does not list
// (left by a crash before a commit) and returns them.
func (l *Lake) RemoveOrphans(name string) ([]string, error) {
	t, err := l.Table(name)
	if err != nil {
		return nil, err
	}
	return t.removeOrphans(l.opts.SharedWriters)
}

// reload drops the cached table state and replays its log again.
func (l *Lake) reload(name string) (*Table, error) {
	l.mu.Lock()
	delete(l.tables, name)
	l.mu.Unlock()
	return l.Table(name)
}

// AppID is the Delta txn appId under which the engine records its progress
// on one Kafka partition.
func (l *Lake) AppID(topic string, partition int32) string {
	return fmt.Sprintf("inlet/%s/engine/%s/%d", l.pipeline, topic, partition)
}

// partitionTxns returns, per partition of topic, the version table t's
// txn action records (the last offset it holds).
func (l *Lake) partitionTxns(t *Table, topic string) map[int32]int64 {
	prefix := l.AppID(topic, 0)
	prefix = prefix[:strings.LastIndexByte(prefix, '/')+1]
	out := map[int32]int64{}
	for app, v := range t.txns {
		if !strings.HasPrefix(app, prefix) {
			continue
		}
		if p, err := strconv.ParseInt(app[len(prefix):], 10, 32); err == nil {
			out[int32(p)] = v
		}
	}
	return out
}

// Row is one change as the lake stores it.
type Row = change.Row

// Range is the first and last Kafka offset a batch read from a partition.
type Range = change.Range

// Batch is what one micro-batch brings one table.
type Batch struct {
	Table  string // schema.table
	Topic  string
	Rows   []Row
	Ranges map[int32]Range
	// Info is recorded in the commit's commitInfo (lineage: pipeline, batch,
	// source positions).
	Info map[string]any
	// FullRefresh tables stage each refresh generation's rows and swap
	// them in, in one commit, at the generation's marker.
	FullRefresh bool
	Markers     []Marker
	// TopicID is the Kafka topic id Topic's offsets (Ranges, the txn
	// versions) belong to; "" when the broker has none. A table records
	// the first it is written with (confTopicID) and refuses another.
	TopicID string
}

// ErrOtherTopic: a batch's rows come from another Kafka topic than the one
// whose offsets the table's txn versions count (same name, another id).
var ErrOtherTopic = errors.New("the table's progress counts the offsets of another Kafka topic")

// confTopicID is the metaData configuration key that records Batch.TopicID.
const confTopicID = "inlet.kafka.topicId"

// confFileTag is the metaData configuration key of the tag Adopt gives the
// names of the files written after it: the adopted topic's offsets start
// again from 0, and the deterministic names (topic, partition, offsets)
// must not be those of the files already there.
const confFileTag = "inlet.kafka.fileTag"

// Marker closes a full refresh generation.
type Marker = change.Marker

// Write commits b as one Delta version, unless the table's txn actions show
// it is already committed. It returns the table's version after the call
// and whether it wrote.
func (l *Lake) Write(ctx context.Context, b Batch) (int64, bool, error) {
	for attempt := 0; ; attempt++ {
		v, wrote, err := l.write(ctx, b)
		// Several writers (engines sharing the partitions, maintenance)
		// may each take versions first: catch up and retry a while.
		if !errors.Is(err, ErrConflict) || attempt >= 50 {
			return v, wrote, err
		}
		if attempt > 0 {
			// Several engines commit to one table: jitter the retries so
			// the writers that collided spread out.
			time.Sleep(time.Duration(1+rand.IntN(5*min(attempt, 10))) * time.Millisecond)
		}
		// Another writer (or maintenance) took the version: catch up with
		// the log, reading only the commits since (not the whole log, whose
		// directory may hold a month of commits). If it committed this very
		// batch, the txn check below skips it.
		t, err := l.Table(b.Table)
		if err == nil {
			err = t.Follow()
		}
		if err != nil {
			return 0, false, err
		}
	}
}

func (l *Lake) write(ctx context.Context, b Batch) (int64, bool, error) {
	t, err := l.Table(b.Table)
	if err != nil {
		return 0, false, err
	}
	topicID := t.topicID
	if b.TopicID != "" && b.TopicID != topicID {
		if topicID != "" {
			return 0, false, fmt.Errorf("lake table %s: %w: it holds topic %s up to the offsets of topic id %s, and this batch was read from topic id %s", b.Table, ErrOtherTopic, b.Topic, topicID, b.TopicID)
		}
		topicID = b.TopicID
	}

	// Drop rows the table already has (a retried batch).
	done := map[int32]int64{} // per partition, the last offset the table has (-1: none)
	doneOf := func(p int32) int64 {
		v, ok := done[p]
		if !ok {
			if v, ok = t.txns[l.AppID(b.Topic, p)]; !ok {
				v = -1
			}
			done[p] = v
		}
		return v
	}
	kept := b.Rows
	for i, r := range b.Rows {
		if r.Offset <= doneOf(r.Partition) {
			kept = append(make([]Row, 0, len(b.Rows)), b.Rows[:i]...)
			for _, r := range b.Rows[i+1:] {
				if r.Offset > doneOf(r.Partition) {
					kept = append(kept, r)
				}
			}
			break
		}
	}
	var markers []Marker
	for _, m := range b.Markers {
		if m.Offset > doneOf(m.Partition) {
			markers = append(markers, m)
		}
	}
	pending := false
	for p, rg := range b.Ranges {
		if rg.To > doneOf(p) {
			pending = true
		}
	}
	if !pending {
		return t.version, false, nil
	}

	var actions []logEntry
	// Schema: the union of what the table had and what the rows bring.
	cols := t.columns
	if cols == nil {
		cols = append([]change.Column(nil), metaColumns...)
	}
	changes := maps.Clone(t.typeChanges)
	if changes == nil {
		changes = map[string][]typeChange{}
	}
	schemaChanged := t.version < 0 || topicID != t.topicID // metaData records the topic id
	mapping := t.mapping.clone()
	// Schemas in the order of their newest row: a batch that reads several
	// partitions may bring an older schema's rows after a newer one's.
	type schemaAt struct {
		sc  *change.Schema
		top uint64
	}
	var schemas []schemaAt
	at := map[string]int{}
	for _, r := range kept {
		i, ok := at[r.Schema.Fingerprint]
		if !ok {
			at[r.Schema.Fingerprint] = len(schemas)
			schemas = append(schemas, schemaAt{sc: r.Schema, top: r.Version})
		} else if r.Version > schemas[i].top {
			schemas[i].top = r.Version
		}
	}
	sort.SliceStable(schemas, func(i, j int) bool { return schemas[i].top < schemas[j].top })
	for _, sa := range schemas {
		merged, changed, renames, err := mergeColumns(cols, sa.sc.Columns, changes, func(n int) bool { return mapping.older(n, sa.top) })
		if err != nil {
			return 0, false, fmt.Errorf("lake table %s: %w", b.Table, err)
		}
		if len(renames) > 0 {
			if mapping == nil {
				mapping = enableMapping(cols, t.part)
			}
			mapping.rename(renames)
			for _, c := range sa.sc.Columns {
				if _, ok := renames[c.Name]; ok {
					mapping.renamedAt[c.Attnum] = sa.top
				}
			}
		}
		cols, schemaChanged = merged, schemaChanged || changed
	}
	if mapping != nil {
		mapping.assign(cols)
	}
	if t.version < 0 && len(kept) == 0 && len(markers) == 0 {
		// Nothing to create the table with yet; record progress only once
		// it exists.
		return t.version, false, nil
	}
	now := l.now().UnixMilli()
	ntz, widened, mapped := needsNTZ(cols) || t.ntz, len(changes) > 0, mapping != nil
	if t.version < 0 || (ntz && !t.ntz) || (widened && !t.widened) || (mapped && t.mapping == nil) {
		p := &protocolAction{MinReaderVersion: 1, MinWriterVersion: 2}
		if ntz || widened || mapped {
			// Table features (reader 3, writer 7) list what readers
			// must understand.
			p = &protocolAction{MinReaderVersion: 3, MinWriterVersion: 7, ReaderFeatures: []string{}, WriterFeatures: []string{}}
			for _, f := range []struct {
				on   bool
				name string
			}{{ntz, "timestampNtz"}, {widened, "typeWidening"}, {mapped, "columnMapping"}} {
				if f.on {
					p.ReaderFeatures, p.WriterFeatures = append(p.ReaderFeatures, f.name), append(p.WriterFeatures, f.name)
				}
			}
		}
		actions = append(actions, logEntry{Protocol: p})
	}
	if t.part == "" {
		t.part = partitionColumnFor(cols)
	}
	if schemaChanged {
		id := t.id
		if id == "" {
			id = newUUID()
		}
		actions = append(actions, logEntry{MetaData: &metaDataAction{
			ID: id, Name: b.Table, Format: formatSpec{Provider: "parquet", Options: map[string]string{}},
			SchemaString: schemaString(cols, t.part, changes, mapping), PartitionColumns: []string{t.part},
			Configuration: configuration(widened, mapping, topicID, t.fileTag), CreatedTime: now, InletColumns: cols,
		}})
	}

	// Data files: one per (partition, day), and refresh generation.
	var staged []stagedFile
	type fileKey struct {
		p   int32
		dt  string
		gen uint64 // full refresh generation
	}
	days := map[int64]string{} // formatted once per day
	keyOf := func(r *Row) fileKey {
		day := r.TsMs / 86_400_000
		if r.TsMs < 0 && r.TsMs%86_400_000 != 0 {
			day--
		}
		dt, ok := days[day]
		if !ok {
			dt = time.UnixMilli(r.TsMs).UTC().Format("2006-01-02")
			days[day] = dt
		}
		k := fileKey{p: r.Partition, dt: dt}
		if b.FullRefresh {
			k.gen = r.Version
		}
		return k
	}
	groups := map[fileKey][]Row{}
	// The files name columns by their physical names (column mapping).
	fileCols, kept := mapping.physicalColumns(cols), mapping.physicalRows(kept, cols)
	if len(kept) > 0 {
		// Usually one file: then the rows are used as they are.
		first, one := keyOf(&kept[0]), true
		for i := range kept {
			if keyOf(&kept[i]) != first {
				one = false
				break
			}
		}
		if one {
			groups[first] = kept
		} else {
			for i := range kept {
				k := keyOf(&kept[i])
				groups[k] = append(groups[k], kept[i])
			}
		}
	}
	keys := make([]fileKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].p != keys[j].p {
			return keys[i].p < keys[j].p
		}
		if keys[i].gen != keys[j].gen {
			return keys[i].gen < keys[j].gen
		}
		return keys[i].dt < keys[j].dt
	})
	for _, k := range keys {
		rows := groups[k]
		rg := b.Ranges[k.p]
		name := fmt.Sprintf("part-%s-%d-%d-%d", b.Topic, k.p, rg.From, rg.To)
		if b.FullRefresh {
			name += fmt.Sprintf("-g%d", k.gen)
		}
		if t.fileTag != "" {
			name += "-" + t.fileTag
		}
		name += ".parquet"
		rel := t.part + "=" + k.dt + "/" + name
		size, err := writeParquet(t.st, t.key(rel), fileCols, rows)
		if err != nil {
			return 0, false, fmt.Errorf("lake table %s: write %s: %w", b.Table, rel, err)
		}
		add := &addAction{
			Path: rel, PartitionValues: map[string]string{t.part: k.dt}, Size: size,
			ModificationTime: now, DataChange: true, Stats: `{"numRecords":` + strconv.Itoa(len(rows)) + `}`,
		}
		if b.FullRefresh {
			staged = append(staged, stagedFile{Gen: rows[0].Version, Add: *add})
			continue
		}
		actions = append(actions, logEntry{Add: add})
	}
	if b.FullRefresh {
		swaps, err := t.swaps(staged, markers, now)
		if err != nil {
			return 0, false, err
		}
		actions = append(actions, swaps...)
	}
	parts := make([]int32, 0, len(b.Ranges))
	for p := range b.Ranges {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	for _, p := range parts {
		actions = append(actions, logEntry{Txn: &txnAction{AppID: l.AppID(b.Topic, p), Version: b.Ranges[p].To, LastUpdated: now}})
	}
	info := map[string]any{
		"timestamp": now, "operation": "WRITE",
		"operationParameters": map[string]any{"mode": "Append", "partitionBy": `["` + t.part + `"]`},
		"isBlindAppend":       true, "engineInfo": "inlet",
		"operationMetrics": map[string]string{"numOutputRows": strconv.Itoa(len(kept)), "numFiles": strconv.Itoa(len(keys))},
	}
	if b.Info != nil {
		info["inlet"] = b.Info
	}
	if len(staged) > 0 {
		info["inletStaged"] = staged
	}
	if len(markers) > 0 {
		info["inletRefreshed"] = markers[len(markers)-1].Gen
		info["operation"] = "REPLACE TABLE AS SELECT"
		info["isBlindAppend"] = false
	}
	actions = append(actions, logEntry{CommitInfo: info})
	failpoint.Hit(failpoint.LakeAfterFilesBeforeLog)
	if err := t.commit(actions); err != nil {
		return 0, false, err
	}
	l.mu.Lock()
	l.noteSeen(b.Table, t.version)
	l.mu.Unlock()
	t.columns = cols
	t.stage(staged, markers)
	// A checkpoint is an optimisation: failing to write one leaves the
	// table whole (the next due version, or Maintain, tries again).
	l.maybeCheckpoint(t)
	t.ntz = t.ntz || needsNTZ(cols)
	t.widened = t.widened || len(changes) > 0
	t.typeChanges = changes
	t.mapping = mapping
	if t.id == "" {
		for _, a := range actions {
			if a.MetaData != nil {
				t.id = a.MetaData.ID
			}
		}
	}
	return t.version, true, nil
}

func newUUID() string {
	h := randHex() + randHex() + randHex()
	h = h[:32]
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

// configuration is a table's metaData configuration: the Kafka topic id
// its offsets belong to (if known), type widening once a column widened,
// and column mapping once a column was renamed.
func configuration(widened bool, mapping *columnMapping, topicID, fileTag string) map[string]string {
	conf := map[string]string{}
	if topicID != "" {
		conf[confTopicID] = topicID
	}
	if fileTag != "" {
		conf[confFileTag] = fileTag
	}
	if widened {
		conf["delta.enableTypeWidening"] = "true"
	}
	mapping.configure(conf)
	return conf
}
