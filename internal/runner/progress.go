package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/inlet-dev/inlet/connectors/httpapi"
	"github.com/inlet-dev/inlet/connectors/postgres"
	"github.com/inlet-dev/inlet/engine"
)

// statusFile is where a running pipeline reports its sources' progress for
// inlet status (which cannot ask the embedded broker while run holds it).
const statusFile = "status.json"

// RunStatus is the content of the status file.
type RunStatus struct {
	Updated time.Time         `json:"updated"`
	PID     int               `json:"pid"`
	Started time.Time         `json:"started,omitzero"` // when the process started
	Sources []postgres.Status `json:"sources"`
	HTTP    []httpapi.Status  `json:"http,omitempty"`
	// Sinks is each sink's state in the engine: lag, retries.
	Sinks []engine.SinkStatus `json:"sinks,omitempty"`
}

// writeStatus writes the status file atomically.
func writeStatus(dir string, srcs []*postgres.Source, hsrcs []*httpapi.Source, eng *engine.Engine) error {
	st := RunStatus{Updated: time.Now().UTC(), PID: os.Getpid(), Started: processStart}
	if eng != nil {
		st.Sinks = eng.Status()
	}
	for _, s := range srcs {
		st.Sources = append(st.Sources, s.Status())
	}
	for _, s := range hsrcs {
		st.HTTP = append(st.HTTP, s.Status())
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+statusFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, statusFile))
}

// readStatus reads the status file, if any.
func readStatus(dir string) (*RunStatus, error) {
	b, err := os.ReadFile(filepath.Join(dir, statusFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st RunStatus
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", statusFile, err)
	}
	return &st, nil
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// bars draws one live line per table being snapshotted: rows done of the
// estimate, rate and ETA. It returns the number of lines drawn so the next
// call can draw over them.
func bars(w io.Writer, srcs []*postgres.Source, prevLines int) int {
	var lines []string
	for _, s := range srcs {
		for _, p := range s.SnapshotProgress() {
			lines = append(lines, barLine(p))
		}
	}
	if prevLines > 0 {
		fmt.Fprintf(w, "\033[%dA", prevLines)
	}
	for _, l := range lines {
		fmt.Fprintf(w, "\r\033[K%s\n", l)
	}
	return len(lines)
}

func barLine(p postgres.TableProgress) string {
	const width = 30
	frac := 0.0
	if p.Estimated > 0 {
		frac = min(1, float64(p.Rows)/float64(p.Estimated))
	}
	if p.Done {
		frac = 1
	}
	filled := int(frac * width)
	bar := strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
	state := fmt.Sprintf("ETA %s", p.ETA().Round(time.Second))
	if p.Done {
		state = "done"
	}
	return fmt.Sprintf("%-32s %s %5.1f%%  %d/~%d rows  %.0f rows/s  %s", p.Table, bar, 100*frac, p.Rows, p.Estimated, p.Rate(), state)
}
