package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// LakeS3 says how to reach the bucket of an s3:// lake.path. Credentials
// come from the standard AWS chain (AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance roles) unless both keys
// are set here, from the environment.
type LakeS3 struct {
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

// LakeIsS3 reports whether a lake path is an s3:// URL.
func LakeIsS3(path string) bool { return strings.HasPrefix(path, "s3://") }

// errLakeOnS3 is LakeDir's error for an s3:// path.
var errLakeOnS3 = errors.New("the lake is on S3, not in a local directory")

// validateLakeS3 checks an s3:// lake.path and the lake.s3 section.
func (c *Config) validateLakeS3(bad func(key, format string, args ...any)) {
	l := c.Lake
	if !LakeIsS3(l.Path) {
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
	if s.SecretAccessKey != "" && !c.fromEnv("lake.s3.secret_access_key") {
		bad("lake.s3.secret_access_key", "written in the file; secrets come from the environment only: write secret_access_key: \"${AWS_SECRET_ACCESS_KEY}\" and export AWS_SECRET_ACCESS_KEY")
	}
}

// lakeS3Secrets are what Redact hides of the lake's S3 settings.
func (c *Config) lakeS3Secrets() {
	if c.Lake != nil && c.Lake.S3 != nil {
		c.addSecret(c.Lake.S3.SecretAccessKey)
		c.addSecret(c.Lake.S3.AccessKeyID)
	}
}

func lakeS3PathErr(path string) error {
	return fmt.Errorf("%q: %w", path, errLakeOnS3)
}
