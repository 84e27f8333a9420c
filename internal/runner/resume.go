package runner

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/inlet-dev/inlet/engine"
	"github.com/inlet-dev/inlet/internal/config"
)

// resumeRequest asks a running inlet to lift a table's quarantine.
type resumeRequest struct {
	Table string `json:"table"`
	Sink  string `json:"sink,omitempty"` // "": every sink that has it
}

func resumeDir(c *config.Config) string { return filepath.Join(c.StateDir, "resume") }

// RequestResume files a request for the running inlet of c to continue a
// quarantined table; it is taken within a second.
func RequestResume(c *config.Config, table, sink string) error {
	if err := os.MkdirAll(resumeDir(c), 0o755); err != nil {
		return err
	}
	b, _ := json.Marshal(resumeRequest{Table: table, Sink: sink})
	name := filepath.Join(resumeDir(c), fmt.Sprintf("%d.json", time.Now().UnixNano()))
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// takeResumes hands pending resume requests to eng and removes them.
func takeResumes(c *config.Config, eng *engine.Engine, log *slog.Logger) {
	files, _ := filepath.Glob(filepath.Join(resumeDir(c), "*.json"))
	for _, f := range files {
		var r resumeRequest
		b, err := os.ReadFile(f)
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		os.Remove(f)
		if err != nil {
			log.Warn("ignoring an unreadable resume request", "file", f, "err", err)
			continue
		}
		if sinks := eng.Resume(r.Table, r.Sink); len(sinks) > 0 {
			log.Info("resuming quarantined table", "table", r.Table, "sinks", sinks)
		} else {
			log.Warn("resume requested for a table no sink has quarantined", "table", r.Table, "sink", r.Sink)
		}
	}
}
