package httpapi

import (
	"encoding/json"
	"fmt"
)

// PositionVersion is the version of the persisted position format.
const PositionVersion = 1

// Position is where an HTTP source resumes, committed to Kafka with the
// records of each page.
//
// Cursor is the highest cursor value committed; the next request asks for
// records from Cursor minus the lookback, inclusive. Seen holds, for the
// records whose cursor is within the lookback of Cursor (or equal to it),
// the cursor value emitted per primary key: a record re-read with the same
// (key, cursor) is not emitted again, so inclusive bounds, ties across
// page boundaries and lookback windows never duplicate. Seq counts the
// records ever emitted (it orders them in Kafka and versions string
// cursors).
type Position struct {
	V      int               `json:"v"`
	Cursor string            `json:"cursor,omitempty"`
	Seen   map[string]string `json:"seen,omitempty"` // primary key (JSON) → cursor value
	Seq    uint64            `json:"seq"`
	// Refresh is the start (µs) of the last completed full refresh.
	Refresh int64 `json:"refresh,omitempty"`
}

// DecodePosition parses a committed position; nil means "from the start".
func DecodePosition(b []byte) (Position, error) {
	if b == nil {
		return Position{V: PositionVersion}, nil
	}
	var p Position
	if err := json.Unmarshal(b, &p); err != nil {
		return Position{}, fmt.Errorf("decode http source position: %w", err)
	}
	if p.V != PositionVersion {
		return Position{}, fmt.Errorf("http source position has format version %d; this Inlet reads %d (upgrade Inlet)", p.V, PositionVersion)
	}
	return p, nil
}

func (p Position) encode() []byte {
	p.V = PositionVersion
	b, _ := json.Marshal(p)
	return b
}
