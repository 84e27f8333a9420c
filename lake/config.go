package lake

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/inlet-dev/inlet/connectors/conf"
)

// Config is the lake's section of a pipeline file: the Delta Lake root
// and its maintenance.
type Config struct {
	Path string `yaml:"path"` // file:///abs/path or a local path
	// Maintenance of the Delta tables (see docs/lake-maintenance.md).
	CheckpointInterval   int                      `yaml:"checkpoint_interval"`    // default 100
	LogRetention         conf.Duration            `yaml:"log_retention"`          // default 30d
	DeletedFileRetention conf.Duration            `yaml:"deleted_file_retention"` // default 7d
	TargetFileMB         int                      `yaml:"target_file_mb"`         // default 128
	CompactMinFiles      int                      `yaml:"compact_min_files"`      // default 10
	Retain               map[string]conf.Duration `yaml:"retain"`                 // deprecated: per table (schema.table); use the table's retain
}

// Dir is the local directory of the lake (the path was validated).
func (l *Config) Dir() (string, error) { return Dir(l.Path) }

// Options are the lake's maintenance settings from its config (zero
// fields keep the lake's defaults).
func (l *Config) Options() Options {
	o := Options{CheckpointInterval: int64(l.CheckpointInterval), LogRetention: time.Duration(l.LogRetention),
		DeletedFileRetention: time.Duration(l.DeletedFileRetention), TargetFileBytes: int64(l.TargetFileMB) << 20,
		CompactMinFiles: l.CompactMinFiles}
	// Retention is per table, set on the sources' tables (and the
	// deprecated Retain map): the pipeline's config merges them.
	return o
}

// Validate reports the section's problems ("lake..." paths). That each
// retain key names a captured table is checked by the pipeline's config,
// which knows the sources.
func (l *Config) Validate(v conf.Checker) {
	if _, err := Dir(l.Path); err != nil {
		v.Bad("lake.path", "%v", err)
	}
	if l.CheckpointInterval < 0 {
		v.Bad("lake.checkpoint_interval", "%d: must be a positive number of commits (default 100)", l.CheckpointInterval)
	}
	if l.LogRetention < 0 || l.DeletedFileRetention < 0 {
		v.Bad("lake.log_retention", "retentions cannot be negative")
	}
	if l.TargetFileMB < 0 {
		v.Bad("lake.target_file_mb", "%d: must be positive (default 128)", l.TargetFileMB)
	}
	for name, d := range l.Retain {
		if d < conf.Duration(24*time.Hour) {
			v.Bad("lake.retain", "%s: %s is less than a day; the lake drops whole days (write e.g. 400d)", name, time.Duration(d))
		}
	}
}

// Dir returns the local directory of a lake path (file:// URL or path).
func Dir(path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("missing; write e.g. path: \"file:///var/lib/inlet/lake\"")
	}
	if !strings.Contains(path, "://") {
		return path, nil
	}
	u, err := url.Parse(path)
	if err != nil {
		return "", fmt.Errorf("%q is not a valid URL: %v", path, err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return "", fmt.Errorf("%q: file URLs need three slashes and an absolute path, e.g. file:///var/lib/inlet/lake", path)
		}
		if u.Path == "" {
			return "", fmt.Errorf("%q has no path", path)
		}
		return u.Path, nil
	default:
		return "", fmt.Errorf("%q: scheme %q is not supported yet; use file:///path", path, u.Scheme)
	}
}
