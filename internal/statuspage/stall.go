package statuspage

import (
	"time"

	"github.com/inlet-dev/inlet/engine"
)

// StallAfter is how long a sink may go without a commit while records
// wait for it before it counts as stalled. A sink blocked on a frozen
// server shows no error until its client times out (minutes); the stall
// shows within seconds.
const StallAfter = 15 * time.Second

// Stalled reports whether a sink is stalled at now, and for how long: it
// has records waiting and has not committed for StallAfter (counting from
// started when it has not committed in this run). A retrying or failed
// sink is not "stalled": it says what is wrong itself.
func Stalled(st engine.SinkStatus, started, now time.Time) (time.Duration, bool) {
	if st.LagRecords <= 0 || st.State == "retrying" || st.State == "failed" {
		return 0, false
	}
	since := st.LastCommit
	if started.After(since) {
		since = started
	}
	if since.IsZero() {
		return 0, false
	}
	d := now.Sub(since)
	return d, d >= StallAfter
}
