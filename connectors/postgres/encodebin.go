package postgres

import (
	"encoding/binary"
	"fmt"

	"github.com/inlet-dev/inlet/change"
)

// appendBinary appends the binary envelope of one change (docs/envelope.md,
// "Binary envelope"): the same event appendJSONEnvelope writes.
func (e *tableEnc) appendBinary(buf []byte, op byte, before []cell, keyOnlyBefore bool, after []cell, p srcPos, nowMs int64) ([]byte, error) {
	buf = change.AppendBinaryStart(buf, op, before != nil, after != nil, p.snapshot)
	buf = append(buf, e.binNames...)
	buf = change.AppendBinaryPos(buf, &change.Source{LSN: p.lsn, CommitLSN: p.commitLSN, Seq: p.seq, TxID: p.txid, TsMs: p.tsMs}, nowMs)
	var err error
	if before != nil {
		if buf, err = e.appendBinaryRow(buf, before, keyOnlyBefore, false); err != nil {
			return buf, err
		}
	}
	if after != nil {
		if buf, err = e.appendBinaryRow(buf, after, false, true); err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// appendBinaryRow appends one row: its column count, then a tag and value
// per column. A before row leaves out unchanged values (and with keyOnly
// every non-key column) as null, as the JSON envelope leaves them out.
func (e *tableEnc) appendBinaryRow(buf []byte, t []cell, keyOnly, after bool) ([]byte, error) {
	cols := e.schema.Columns
	if len(t) != len(cols) {
		return buf, fmt.Errorf("table %s: tuple has %d columns, schema %d", e.schema.Name(), len(t), len(cols))
	}
	buf = binary.AppendUvarint(buf, uint64(len(cols)))
	var err error
	for i, c := range t {
		switch {
		case c.kind == 'u' && after:
			buf = append(buf, change.BinUnchanged)
		case c.kind == 'n' || c.kind == 'u' || (keyOnly && !cols[i].Key):
			buf = append(buf, change.BinNull)
		default:
			buf = append(buf, change.BinValue)
			if buf, err = appendBin(buf, &cols[i], c.data, &e.binSc); err != nil {
				return buf, fmt.Errorf("encode %s.%s (%s): %w", e.schema.Name(), cols[i].Name, cols[i].SourceType, err)
			}
		}
	}
	return buf, nil
}

// binaryMarker is refreshMarker's value in the binary envelope.
func (e *tableEnc) binaryMarker(buf []byte, gen uint64, rows, tsMs, nowMs int64) []byte {
	buf = change.AppendBinaryStart(buf, change.OpRefreshDone, false, false, true)
	buf = append(buf, e.binNames...)
	return change.AppendBinaryPos(buf, &change.Source{CommitLSN: gen, Seq: uint32(rows), TsMs: tsMs}, nowMs)
}
