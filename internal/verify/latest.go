package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/inlet-dev/inlet/internal/fsutil"
)

// LatestFile is where `inlet verify` keeps each table's latest result in
// the state dir, for the status page and /metrics of `inlet run` (and
// `inlet serve`). One entry per table, replaced by each run that checks
// it: the file stays as small as the pipeline's table list.
const LatestFile = "verify.json"

// latestVersion is the format of LatestFile.
const latestVersion = 1

// maxExamples is how many example keys per drift the file keeps.
const maxExamples = 3

// Latest is one table's latest verify result.
type Latest struct {
	Table      string    `json:"table"`
	At         time.Time `json:"at"`
	OK         bool      `json:"ok"`
	Postgres   int64     `json:"postgres_rows"`
	ClickHouse int64     `json:"clickhouse_rows"` // -1: not compared
	Lake       int64     `json:"lake_rows"`       // -1: not compared
	Drift      []Drift   `json:"drift,omitempty"`
	Problems   []string  `json:"problems,omitempty"`
	Skipped    string    `json:"skipped,omitempty"`
	// Unconfirmed: drift seen while the pipeline had not caught up.
	Unconfirmed bool `json:"unconfirmed,omitempty"`
}

type latestFile struct {
	Version int      `json:"version"`
	Tables  []Latest `json:"tables"`
}

// Record writes the report's tables into dir's LatestFile (atomically),
// keeping other tables' earlier results.
func Record(dir string, r *Report, at time.Time) error {
	all, err := ReadLatest(dir)
	if err != nil {
		all = map[string]Latest{} // an unreadable file is replaced
	}
	for _, t := range r.Tables {
		l := Latest{Table: t.Table, At: at.UTC(), OK: t.Skipped == "" && len(t.Drift) == 0 && len(t.Problems) == 0,
			Postgres: t.Postgres, ClickHouse: t.ClickHouse, Lake: t.Lake, Problems: t.Problems, Skipped: t.Skipped, Unconfirmed: t.Unconfirmed}
		for _, d := range t.Drift {
			if len(d.Examples) > maxExamples {
				d.Examples = d.Examples[:maxExamples]
			}
			l.Drift = append(l.Drift, d)
		}
		all[t.Table] = l
	}
	f := latestFile{Version: latestVersion}
	for _, l := range all {
		f.Tables = append(f.Tables, l)
	}
	sort.Slice(f.Tables, func(i, j int) bool { return f.Tables[i].Table < f.Tables[j].Table })
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, LatestFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return fsutil.SyncDir(dir)
}

// ReadLatest reads dir's LatestFile by table (empty when there is none).
func ReadLatest(dir string) (map[string]Latest, error) {
	out := map[string]Latest{}
	b, err := os.ReadFile(filepath.Join(dir, LatestFile))
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	var f latestFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, LatestFile), err)
	}
	if f.Version != latestVersion {
		return nil, fmt.Errorf("%s: format version %d, this inlet reads %d; run inlet verify again to rewrite it", filepath.Join(dir, LatestFile), f.Version, latestVersion)
	}
	for _, l := range f.Tables {
		out[l.Table] = l
	}
	return out, nil
}
