package change

// EnvelopeVersion is the version of the change envelope ("v" field).
const EnvelopeVersion = 1

// Ops of the envelope's "op" field (Debezium's letters).
const (
	OpCreate   = 'c'
	OpUpdate   = 'u'
	OpDelete   = 'd'
	OpRead     = 'r' // a snapshot or backfill read
	OpTruncate = 't'
	// OpRefreshDone closes a full refresh: source.commit_lsn is its
	// version (generation), source.seq the number of rows it sent.
	OpRefreshDone = 'f'
)

// Header keys carried on every change record, for cheap filtering.
const (
	HeaderCommitLSN = "inlet.commit_lsn"
	HeaderSchema    = "inlet.schema"
)

// Source is the "source" block of an envelope.
type Source struct {
	Connector string `json:"connector"`
	Pipeline  string `json:"pipeline"`
	DB        string `json:"db"`
	Schema    string `json:"schema"`
	Table     string `json:"table"`
	LSN       uint64 `json:"lsn"`        // LSN of the change record (0 in snapshots)
	CommitLSN uint64 `json:"commit_lsn"` // commit LSN of its transaction; the row version
	Seq       uint32 `json:"seq"`        // position within the transaction, from 1
	TxID      uint32 `json:"txid"`
	TsMs      int64  `json:"ts_ms"` // commit time
	Snapshot  bool   `json:"snapshot"`
}
