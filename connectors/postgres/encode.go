package postgres

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/inlet-dev/inlet/change"
	"github.com/inlet-dev/inlet/connectors"
)

// cell is one column value as Postgres sent it.
type cell struct {
	kind byte // 'n' null, 'u' unchanged TOAST, 't' text
	data []byte
}

// tableEnc turns tuples of one table (at one schema version) into records.
type tableEnc struct {
	schema    *change.Schema
	topic     string
	srcPrefix []byte   // `"source":{"connector":...,"table":"x",`
	names     [][]byte // `"col":`
	keyIdx    []int
	hdrLSN    uint64
	hdrs      []connectors.Header

	// binary: records carry the binary envelope (kafka.envelope: binary);
	// binNames is its fingerprint and source names, which never change.
	binary   bool
	binNames []byte
	binSc    binScratch

	// The envelope's parts around "seq", kept while they repeat (always
	// in a snapshot, within a transaction for the tail).
	lsnKey  [2]uint64
	lsnText []byte // `"lsn":…,"commit_lsn":…,"seq":`
	tailKey tailKey
	tail    []byte // `,"txid":…,"ts_ms":…,"snapshot":…},"ts_ms":…,"schema":"…"}`
}

type tailKey struct {
	txid        uint32
	tsMs, nowMs int64
	snapshot    bool
}

func (e *tableEnc) lsnPart(p srcPos) []byte {
	if k := [2]uint64{p.lsn, p.commitLSN}; e.lsnText == nil || k != e.lsnKey {
		b := append(e.lsnText[:0], `"lsn":`...)
		b = strconv.AppendUint(b, p.lsn, 10)
		b = append(b, `,"commit_lsn":`...)
		b = strconv.AppendUint(b, p.commitLSN, 10)
		e.lsnText, e.lsnKey = append(b, `,"seq":`...), k
	}
	return e.lsnText
}

func (e *tableEnc) tailPart(p srcPos, nowMs int64) []byte {
	if k := (tailKey{p.txid, p.tsMs, nowMs, p.snapshot}); e.tail == nil || k != e.tailKey {
		b := append(e.tail[:0], `,"txid":`...)
		b = strconv.AppendUint(b, uint64(p.txid), 10)
		b = append(b, `,"ts_ms":`...)
		b = strconv.AppendInt(b, p.tsMs, 10)
		b = append(b, `,"snapshot":`...)
		b = strconv.AppendBool(b, p.snapshot)
		b = append(b, `},"ts_ms":`...)
		b = strconv.AppendInt(b, nowMs, 10)
		b = append(b, `,"schema":"`...)
		b = append(b, e.schema.Fingerprint...)
		e.tail, e.tailKey = append(b, '"', '}'), k
	}
	return e.tail
}

func newTableEnc(s *change.Schema, db string, binary bool) *tableEnc {
	e := &tableEnc{schema: s, topic: s.Topic, keyIdx: s.KeyColumns(), binary: binary}
	if binary {
		e.binNames = change.AppendBinaryNames(nil, s.Fingerprint, &change.Source{Connector: "postgres",
			Pipeline: s.Pipeline, DB: db, Schema: s.Namespace, Table: s.Table})
	}
	p := []byte(`"source":{"connector":"postgres","pipeline":`)
	p = appendString(p, []byte(s.Pipeline))
	p = append(p, `,"db":`...)
	p = appendString(p, []byte(db))
	p = append(p, `,"schema":`...)
	p = appendString(p, []byte(s.Namespace))
	p = append(p, `,"table":`...)
	p = appendString(p, []byte(s.Table))
	e.srcPrefix = append(p, ',')
	for _, c := range s.Columns {
		n := appendString(nil, []byte(c.Name))
		e.names = append(e.names, append(n, ':'))
	}
	return e
}

// schemaRecord is the record announcing e's schema on the schemas topic.
func (e *tableEnc) schemaRecord() connectors.Record {
	v, _ := json.Marshal(e.schema)
	return connectors.Record{
		Topic: change.SchemasTopic(e.schema.Pipeline),
		Key:   []byte(e.topic + "/" + e.schema.Fingerprint),
		Value: v,
	}
}

type srcPos struct {
	lsn, commitLSN uint64
	seq            uint32
	txid           uint32
	tsMs           int64
	snapshot       bool
}

func (e *tableEnc) headers(commitLSN uint64) []connectors.Header {
	if e.hdrs == nil || e.hdrLSN != commitLSN {
		e.hdrLSN = commitLSN
		e.hdrs = []connectors.Header{
			{Key: change.HeaderCommitLSN, Value: strconv.AppendUint(nil, commitLSN, 10)},
			{Key: change.HeaderSchema, Value: []byte(e.schema.Fingerprint)},
		}
		if e.binary {
			e.hdrs = append(e.hdrs, connectors.Header{Key: change.HeaderFormat, Value: []byte(change.FormatBinary)})
		}
	}
	return e.hdrs
}

// encode appends the key and the envelope of one change to buf and returns
// the record (whose Key and Value alias buf) and the grown buf. before is
// nil when not sent; keyOnlyBefore says before carries only key columns.
func (e *tableEnc) encode(buf []byte, op byte, before []cell, keyOnlyBefore bool, after []cell, p srcPos, nowMs int64) (connectors.Record, []byte, error) {
	keySrc := after
	if op == change.OpDelete {
		keySrc = before
	}
	k0 := len(buf)
	buf, err := e.appendKey(buf, keySrc)
	if err != nil {
		return connectors.Record{}, buf, err
	}
	k1 := len(buf)
	if e.binary {
		buf, err = e.appendBinary(buf, op, before, keyOnlyBefore, after, p, nowMs)
	} else {
		buf, err = e.appendJSONEnvelope(buf, op, before, keyOnlyBefore, after, p, nowMs)
	}
	if err != nil {
		return connectors.Record{}, buf, err
	}
	v1 := len(buf)
	buf = appendOrder(buf, p.commitLSN, uint64(p.seq))
	return connectors.Record{
		Topic:   e.topic,
		Key:     buf[k0:k1:k1],
		Value:   buf[k1:v1:v1],
		Headers: e.headers(p.commitLSN),
		Order:   buf[v1:len(buf):len(buf)],
	}, buf, nil
}

// appendKey appends the record key: a JSON object of the key columns, in
// either envelope format (so a key lands on the same partition in both).
func (e *tableEnc) appendKey(buf []byte, keySrc []cell) ([]byte, error) {
	buf = append(buf, '{')
	for i, ci := range e.keyIdx {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, e.names[ci]...)
		var err error
		if buf, err = e.appendCell(buf, ci, keySrc); err != nil {
			return buf, err
		}
	}
	return append(buf, '}'), nil
}

// appendJSONEnvelope appends the JSON envelope of one change.
func (e *tableEnc) appendJSONEnvelope(buf []byte, op byte, before []cell, keyOnlyBefore bool, after []cell, p srcPos, nowMs int64) ([]byte, error) {
	buf = append(buf, `{"v":1,"op":"`...)
	buf = append(buf, op, '"', ',')
	buf = append(buf, `"before":`...)
	var err error
	if buf, err = e.appendTuple(buf, before, keyOnlyBefore); err != nil {
		return buf, err
	}
	buf = append(buf, `,"after":`...)
	if buf, err = e.appendTuple(buf, after, false); err != nil {
		return buf, err
	}
	unchanged := false
	for i, c := range after {
		if c.kind == 'u' {
			if !unchanged {
				buf = append(buf, `,"unchanged":[`...)
				unchanged = true
			} else {
				buf = append(buf, ',')
			}
			buf = append(buf, e.names[i][:len(e.names[i])-1]...)
		}
	}
	if unchanged {
		buf = append(buf, ']')
	}
	buf = append(buf, ',')
	buf = append(buf, e.srcPrefix...)
	buf = append(buf, e.lsnPart(p)...)
	buf = strconv.AppendUint(buf, uint64(p.seq), 10)
	buf = append(buf, e.tailPart(p, nowMs)...)
	return buf, nil
}

func (e *tableEnc) appendTuple(buf []byte, t []cell, keyOnly bool) ([]byte, error) {
	if t == nil {
		return append(buf, "null"...), nil
	}
	if len(t) != len(e.names) {
		return buf, fmt.Errorf("table %s: tuple has %d columns, schema %d", e.schema.Name(), len(t), len(e.names))
	}
	buf = append(buf, '{')
	first := true
	var err error
	for i, c := range t {
		if c.kind == 'u' || (keyOnly && !e.schema.Columns[i].Key) {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, e.names[i]...)
		if buf, err = e.appendCell(buf, i, t); err != nil {
			return buf, err
		}
	}
	return append(buf, '}'), nil
}

func (e *tableEnc) appendCell(buf []byte, i int, t []cell) ([]byte, error) {
	if t == nil || t[i].kind == 'n' {
		return append(buf, "null"...), nil
	}
	b, err := appendJSON(buf, &e.schema.Columns[i], t[i].data)
	if err != nil {
		c := e.schema.Columns[i]
		return b, fmt.Errorf("encode %s.%s (%s): %w", e.schema.Name(), c.Name, c.SourceType, err)
	}
	return b, nil
}

// appendOrder appends a record's Order: commit LSN, then seq, big endian.
func appendOrder(buf []byte, commitLSN, seq uint64) []byte {
	buf = binary.BigEndian.AppendUint64(buf, commitLSN)
	return binary.BigEndian.AppendUint64(buf, seq)
}
