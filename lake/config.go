package lake

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/inlet-dev/inlet/connectors/conf"
	"github.com/inlet-dev/inlet/lake/store"
)

// Config is the lake's section of a pipeline file: the Delta Lake root
// and its maintenance.
type Config struct {
	Path string `yaml:"path"` // file:///abs/path, a local path, or s3://bucket/prefix
	// S3 reaches the bucket of an s3:// path (docs/lake-s3.md).
	S3 *S3Config `yaml:"s3"`
	// Maintenance of the Delta tables (see docs/lake-maintenance.md).
	CheckpointInterval   int                      `yaml:"checkpoint_interval"`    // default 100
	LogRetention         conf.Duration            `yaml:"log_retention"`          // default 30d
	DeletedFileRetention conf.Duration            `yaml:"deleted_file_retention"` // default 7d
	TargetFileMB         int                      `yaml:"target_file_mb"`         // default 128
	CompactMinFiles      int                      `yaml:"compact_min_files"`      // default 10
	Retain               map[string]conf.Duration `yaml:"retain"`                 // deprecated: per table (schema.table); use the table's retain
}

// S3Config says how to reach the bucket of an s3:// lake.path.
// Credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance roles) unless both keys are
// set here, from the environment.
type S3Config struct {
	// Endpoint is an S3-compatible store's URL, e.g. http://minio:9000
	// (empty: AWS S3).
	Endpoint string `yaml:"endpoint"`
	// Region defaults to the AWS chain's (AWS_REGION), else us-east-1.
	Region string `yaml:"region"`
	// PathStyle addresses buckets as endpoint/bucket (most S3-compatible
	// stores need it).
	PathStyle bool `yaml:"path_style"`
	// AccessKeyID and SecretAccessKey: "${AWS_ACCESS_KEY_ID}" and
	// "${AWS_SECRET_ACCESS_KEY}" (never written in the file).
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
}

// IsS3 reports whether a lake path is an s3:// URL.
func IsS3(path string) bool { return strings.HasPrefix(path, "s3://") }

// ErrOnS3 is Dir's error for an s3:// path: the lake has no local
// directory.
var ErrOnS3 = errors.New("the lake is on S3, not in a local directory")

// Dir is the local directory of the lake (the path was validated);
// ErrOnS3 for a lake on S3.
func (l *Config) Dir() (string, error) { return Dir(l.Path) }

// Store opens the lake's store: its local directory, or its S3 bucket,
// connected and probed that it honours If-None-Match (see lake/store), so
// a store that would let two commits of one version both land is refused
// before any write. Errors name the setting to fix and hold no secret.
func (l *Config) Store(ctx context.Context) (store.Store, error) {
	if !IsS3(l.Path) {
		dir, err := Dir(l.Path)
		if err != nil {
			return nil, fmt.Errorf("lake.path: %w", err)
		}
		return store.NewLocal(dir)
	}
	bucket, prefix, err := store.ParseS3URL(strings.TrimSpace(l.Path))
	if err != nil {
		return nil, fmt.Errorf("lake.path: %w", err)
	}
	o := store.S3Options{Bucket: bucket, Prefix: prefix}
	if s := l.S3; s != nil {
		o.Endpoint, o.Region, o.PathStyle = s.Endpoint, s.Region, s.PathStyle
		o.AccessKeyID, o.SecretAccessKey = s.AccessKeyID, s.SecretAccessKey
	}
	return store.NewS3(ctx, o)
}

// Open opens the lake this config names with the maintenance options o.
func (l *Config) Open(ctx context.Context, pipeline string, o Options) (*Lake, error) {
	st, err := l.Store(ctx)
	if err != nil {
		return nil, err
	}
	return OpenStore(st, pipeline, o), nil
}

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
	if !IsS3(l.Path) {
		if _, err := Dir(l.Path); err != nil {
			v.Bad("lake.path", "%v", err)
		}
	}
	l.validateS3(v)
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
	case "s3":
		return "", fmt.Errorf("%q: %w", path, ErrOnS3)
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return "", fmt.Errorf("%q: file URLs need three slashes and an absolute path, e.g. file:///var/lib/inlet/lake", path)
		}
		if u.Path == "" {
			return "", fmt.Errorf("%q has no path", path)
		}
		return u.Path, nil
	default:
		return "", fmt.Errorf("%q: scheme %q is not supported; use file:///path or s3://bucket/prefix", path, u.Scheme)
	}
}

// validateS3 checks an s3:// lake.path and the lake.s3 section.
func (l *Config) validateS3(v conf.Checker) {
	bad := v.Bad
	if !IsS3(l.Path) {
		if l.S3 != nil {
			bad("lake.s3", "set, but lake.path %q is not an s3:// URL; remove lake.s3 or write path: s3://bucket/prefix", l.Path)
		}
		return
	}
	u, err := url.Parse(l.Path)
	if err != nil || u.Host == "" {
		bad("lake.path", "%q has no bucket; write e.g. path: s3://my-bucket/inlet", l.Path)
		return
	}
	s := l.S3
	if s == nil {
		return // AWS S3 with the AWS chain's region and credentials
	}
	if s.Endpoint != "" {
		if e, err := url.Parse(s.Endpoint); err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			bad("lake.s3.endpoint", "%q is not an http(s) URL; write e.g. endpoint: http://minio:9000", s.Endpoint)
		}
	}
	if (s.AccessKeyID == "") != (s.SecretAccessKey == "") {
		bad("lake.s3.access_key_id", "set both access_key_id and secret_access_key, or neither (then the AWS chain: AWS_ACCESS_KEY_ID, AWS_PROFILE, instance roles)")
	}
	if s.SecretAccessKey != "" && !v.FromEnv("lake.s3.secret_access_key") {
		bad("lake.s3.secret_access_key", "written in the file; secrets come from the environment only: write secret_access_key: \"${AWS_SECRET_ACCESS_KEY}\" and export AWS_SECRET_ACCESS_KEY")
	}
}
