package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/inlet-dev/inlet/lake"
)

const s3Base = `pipeline: shop
state_dir: /tmp/state
sources:
  - name: pg
    postgres:
      dsn: "postgres://inlet@db:5432/shop"
      tables: [orders]
`

// TestLakeOnS3Keys: an s3:// lake.path with lake.s3 validates; the keys
// come from the environment and are redacted; mistakes are each named.
func TestLakeOnS3Keys(t *testing.T) {
	t.Setenv("T_S3_KEY", "AKIAEXAMPLEKEY1")
	t.Setenv("T_S3_SECRET", "s3-secret-value-1")
	t.Setenv("T_S3_ENDPOINT", "http://minio:9000")
	c, err := Parse("p.yaml", []byte(s3Base+`lake:
  path: s3://lake/shop
  s3:
    endpoint: ${T_S3_ENDPOINT}
    region: eu-west-1
    path_style: true
    access_key_id: ${T_S3_KEY}
    secret_access_key: ${T_S3_SECRET}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if s := c.Lake.S3; s.Endpoint != "http://minio:9000" || s.Region != "eu-west-1" || !s.PathStyle || s.SecretAccessKey != "s3-secret-value-1" {
		t.Fatalf("parsed %+v", s)
	}
	if got := c.Redact("key AKIAEXAMPLEKEY1 secret s3-secret-value-1 at http://minio:9000"); got != "key *** secret *** at http://minio:9000" {
		t.Errorf("redacted: %q", got)
	}
	if _, err := c.Lake.Dir(); !errors.Is(err, lake.ErrOnS3) {
		t.Errorf("Dir of an s3 path: %v", err)
	}

	c, err = Parse("p.yaml", []byte(s3Base+`lake:
  path: s3:///nobucket
  s3:
    endpoint: minio:9000
    secret_access_key: written-here
`))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	for _, want := range []string{"lake.path", "no bucket"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validate: %v; want it to mention %q", err, want)
		}
	}
	c, _ = Parse("p.yaml", []byte(s3Base+`lake:
  path: s3://lake
  s3:
    endpoint: minio:9000
    secret_access_key: written-here
`))
	err = c.Validate()
	for _, want := range []string{"lake.s3.endpoint", "lake.s3.access_key_id", "lake.s3.secret_access_key", "written in the file"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validate: %v; want it to mention %q", err, want)
		}
	}
	c, _ = Parse("p.yaml", []byte(s3Base+`lake:
  path: /tmp/lake
  s3: {region: us-east-1}
`))
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "lake.s3") {
		t.Errorf("lake.s3 with a local path: %v", err)
	}
}

// TestExampleS3ConfigValidates keeps examples/compose-s3.yaml loading.
func TestExampleS3ConfigValidates(t *testing.T) {
	t.Setenv("PGPASSWORD", "inlet")
	t.Setenv("CLICKHOUSE_PASSWORD", "inlet")
	c, err := Load("../../examples/compose-s3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !lake.IsS3(c.Lake.Path) || c.Lake.S3 == nil || !c.Lake.S3.PathStyle {
		t.Fatalf("lake %+v", c.Lake)
	}
}
