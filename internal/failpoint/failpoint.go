// Package failpoint holds named crash points compiled into the binary. A
// point is armed by the environment variable INLET_FAILPOINT, e.g.
//
//	INLET_FAILPOINT=lake.after_files_before_log      crash on the first hit
//	INLET_FAILPOINT=capture.mid_transaction@3        crash on the third hit
//
// A crash is SIGKILL to the process itself: no deferred function, flush or
// shutdown path runs, exactly as with kill -9 or a power cut.
package failpoint

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// Names of the crash points. Each sits where a crash is hardest to get right.
const (
	// CaptureMidTransaction: records of a Kafka transaction produced, not committed.
	CaptureMidTransaction = "capture.mid_transaction"
	// CaptureAfterCommitBeforeAck: Kafka committed, Postgres not yet told.
	CaptureAfterCommitBeforeAck = "capture.after_commit_before_ack"
	// LakeAfterFilesBeforeLog: Parquet files written, Delta log not committed.
	LakeAfterFilesBeforeLog = "lake.after_files_before_log"
	// EngineAfterLakeBeforeCheckpoint: lake committed, its checkpoint (the
	// batch history entry) not.
	EngineAfterLakeBeforeCheckpoint = "engine.after_apply_before_checkpoint.lake"
	// LakeCompactBeforeLog: compacted files written, their commit not.
	LakeCompactBeforeLog = "lake.compact_before_log"
	// EngineAfterClickHouseBeforeCheckpoint: ClickHouse written, its checkpoint not.
	EngineAfterClickHouseBeforeCheckpoint = "engine.after_apply_before_checkpoint.clickhouse"
)

// AfterApplyBeforeCheckpoint names the crash point between a sink's Apply
// and the commit of its checkpoint.
func AfterApplyBeforeCheckpoint(sink string) string {
	return "engine.after_apply_before_checkpoint." + sink
}

// CheckpointError names the error point that fails the checkpoint commit
// after a sink's Apply (armed with Fail, not a crash).
func CheckpointError(sink string) string { return "engine.checkpoint_error." + sink }

// All lists every crash point.
var All = []string{CaptureMidTransaction, CaptureAfterCommitBeforeAck, LakeAfterFilesBeforeLog,
	EngineAfterLakeBeforeCheckpoint, EngineAfterClickHouseBeforeCheckpoint}

var (
	armed string
	nth   int64 = 1
	hits  atomic.Int64
)

func init() {
	v := os.Getenv("INLET_FAILPOINT")
	if v == "" {
		return
	}
	armed = v
	if i := strings.IndexByte(v, '@'); i >= 0 {
		armed = v[:i]
		if n, err := strconv.ParseInt(v[i+1:], 10, 64); err == nil && n > 0 {
			nth = n
		}
	}
}

// Fail returns an error if the point name is armed and this is its n-th
// hit (an error point: the stage sees a failure, the process lives on).
func Fail(name string) error {
	if armed == "" || name != armed {
		return nil
	}
	if hits.Add(1) == nth {
		os.Stderr.WriteString("failpoint " + name + ": failing\n")
		return errors.New("failpoint " + name)
	}
	return nil
}

// Hit crashes the process if the point name is armed and this is its n-th hit.
func Hit(name string) {
	if armed == "" || name != armed {
		return
	}
	if hits.Add(1) == nth {
		os.Stderr.WriteString("failpoint " + name + ": crashing\n")
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // never returns
	}
}
