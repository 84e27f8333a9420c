package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inlet-dev/inlet/internal/testenv"
)

// lakeOnS3 moves the test's lake to S3: a versitygw server whose posix
// backend keeps the objects under dir/s3/<bucket>, the config's lake.path
// an s3:// URL with the keys from the environment. e.lakeDir becomes that
// bucket directory, so the checks read the lake written through S3 with
// independent local readers (chDB's deltaLakeLocal, DuckDB).
func (e *env) lakeOnS3(t *testing.T) {
	t.Helper()
	s := testenv.StartS3In(t, filepath.Join(e.dir, "s3"))
	t.Setenv("INLET_TEST_S3_KEY", s.AccessKey)
	t.Setenv("INLET_TEST_S3_SECRET", s.SecretKey)
	cfg := string(mustRead(t, e.cfg))
	old := fmt.Sprintf("lake:\n  path: \"file://%s/lake\"\n", e.dir)
	if !strings.Contains(cfg, old) {
		t.Fatalf("config has no file:// lake to move:\n%s", cfg)
	}
	cfg = strings.Replace(cfg, old, fmt.Sprintf(`lake:
  path: "s3://%s/"
  s3:
    endpoint: %s
    path_style: true
    access_key_id: "${INLET_TEST_S3_KEY}"
    secret_access_key: "${INLET_TEST_S3_SECRET}"
`, s.Bucket, s.Endpoint), 1)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	e.lakeDir = s.BucketDir(s.Bucket)
	t.Logf("lake on S3: %s at %s (objects in %s)", s.Bucket, s.Endpoint, e.lakeDir)
}
