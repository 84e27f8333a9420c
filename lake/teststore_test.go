package lake

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/internal/testenv"
	"github.com/inlet-dev/inlet/lake/store"
)

// The lake's tests run on a local directory, or with INLET_LAKE_STORE=s3
// on S3: a versitygw server per test, whose posix backend keeps the
// objects as plain files under the test's root, so the tests read and
// damage them there as they do a local lake's (scripts/test.sh runs the
// package both ways).
var onS3 = os.Getenv("INLET_LAKE_STORE") == "s3"

var (
	storesMu sync.Mutex
	stores   = map[string]store.Store{}
	crashS3  = map[string]string{} // per S3 root: endpoint, bucket, keys (for TestSIGKILL's helper process)
)

// lakeRoot returns a fresh lake's local directory: a temp dir, or the
// directory where an S3 server keeps the lake's objects.
func lakeRoot(t testing.TB) string {
	t.Helper()
	if !onS3 {
		return t.TempDir()
	}
	s := testenv.StartS3(t)
	root := filepath.Join(s.BucketDir(s.Bucket), "lake")
	storesMu.Lock()
	stores[root] = touchS3{s.Store(t, s.Bucket, "lake"), root}
	crashS3[root] = strings.Join([]string{s.Endpoint, s.Bucket, s.AccessKey, s.SecretKey}, " ")
	storesMu.Unlock()
	t.Cleanup(func() {
		storesMu.Lock()
		delete(stores, root)
		storesMu.Unlock()
	})
	return root
}

// storeAt is the store of the lake rooted at root.
func storeAt(root string) store.Store {
	storesMu.Lock()
	st, ok := stores[root]
	storesMu.Unlock()
	if ok {
		return st
	}
	l, err := store.NewLocal(root)
	if err != nil {
		panic(err)
	}
	return l
}

func testOpen(t testing.TB, root, pipeline string) *Lake {
	return testOpenWith(t, root, pipeline, Options{})
}

func testOpenWith(t testing.TB, root, pipeline string, o Options) *Lake {
	t.Helper()
	return OpenStore(storeAt(root), pipeline, o)
}

// touchS3 dates objects through the posix backend's files (S3 has no
// call for it), for tests with an injected clock.
type touchS3 struct {
	*store.S3
	root string
}

func (s touchS3) Touch(key string, t time.Time) error {
	return os.Chtimes(filepath.Join(s.root, filepath.FromSlash(key)), t, t)
}

// lastCheckpointIn reads the version _last_checkpoint in the log
// directory names (-1: none).
func lastCheckpointIn(logDir string) int64 {
	b, err := os.ReadFile(filepath.Join(logDir, "_last_checkpoint"))
	if err != nil {
		return -1
	}
	var lc lastCheckpoint
	if json.Unmarshal(b, &lc) != nil {
		return -1
	}
	return lc.Version
}
