package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/inlet-dev/inlet/lake/store"
)

// VersityGWVersion is the versitygw release the tests run (installed from
// the Go module proxy when missing).
const VersityGWVersion = "v1.8.0"

// S3 is a real S3 server (versitygw with its posix backend) on a free
// loopback port. Objects are plain files under Dir/<bucket>/<key>, so an
// independent reader (chDB's deltaLakeLocal) can read what went through
// S3.
type S3 struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Bucket    string // a bucket made at start
	Dir       string // the posix backend's root
	cmd       *exec.Cmd
}

// BucketDir is the local directory of a bucket's objects.
func (s *S3) BucketDir(bucket string) string { return filepath.Join(s.Dir, bucket) }

// Store connects a lake store to bucket under prefix (the If-None-Match
// probe included).
func (s *S3) Store(t T, bucket, prefix string) *store.S3 {
	t.Helper()
	st, err := store.NewS3(context.Background(), store.S3Options{Bucket: bucket, Prefix: prefix, Endpoint: s.Endpoint,
		Region: "us-east-1", PathStyle: true, AccessKeyID: s.AccessKey, SecretAccessKey: s.SecretKey})
	if err != nil {
		t.Fatalf("s3 store: %v", err)
	}
	return st
}

// NewBucket makes a bucket with a random name and returns it.
func (s *S3) NewBucket(t T) string {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	name := "inlet-" + hex.EncodeToString(b[:])
	st, err := store.NewS3(context.Background(), store.S3Options{Bucket: name, Endpoint: s.Endpoint, Region: "us-east-1",
		PathStyle: true, AccessKeyID: s.AccessKey, SecretAccessKey: s.SecretKey, SkipProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Client().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

var installOnce sync.Once

// VersityGW returns the versitygw binary, installing it with go install
// into ~/.cache/inlet-bin when neither PATH nor that directory has it.
func VersityGW(t T) string {
	t.Helper()
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	home, _ := os.UserHomeDir()
	bin := filepath.Join(home, ".cache", "inlet-bin")
	if d := os.Getenv("INLET_BIN"); d != "" {
		bin = d
	}
	p := filepath.Join(bin, "versitygw")
	var out []byte
	var err error
	installOnce.Do(func() {
		if _, e := os.Stat(p); e == nil {
			return
		}
		cmd := exec.Command("go", "install", "github.com/versity/versitygw/cmd/versitygw@"+VersityGWVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+bin)
		out, err = cmd.CombinedOutput()
	})
	if err != nil {
		t.Fatalf("install versitygw (the S3 server the lake tests use): go install github.com/versity/versitygw/cmd/versitygw@%s: %v\n%s\n(or run scripts/deps.sh)", VersityGWVersion, err, out)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("versitygw not found at %s; run scripts/deps.sh", p)
	}
	return p
}

// StartS3 starts versitygw on a free port with a fresh posix directory
// and one bucket; t.Cleanup stops it.
func StartS3(t T) *S3 {
	t.Helper()
	dir, err := os.MkdirTemp("", "inlet-s3-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return StartS3In(t, dir)
}

// StartS3In is StartS3 with the posix backend in dir (made if missing,
// left in place: a test that keeps its work dir keeps the objects).
func StartS3In(t T, dir string) *S3 {
	t.Helper()
	bin := VersityGW(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	s := &S3{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), AccessKey: "inlettest", SecretKey: "inlettestsecret", Dir: dir}
	logf, err := os.Create(filepath.Join(dir, ".versitygw.log"))
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, "--access", s.AccessKey, "--secret", s.SecretKey, "--port", fmt.Sprintf("127.0.0.1:%d", port), "posix", dir)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	t.Cleanup(func() {
		stop(s.cmd, syscall.SIGTERM)
		logf.Close()
	})
	if err := waitPort(fmt.Sprintf("127.0.0.1:%d", port), 30*time.Second); err != nil {
		t.Fatalf("versitygw: %v\n%s", err, tail(logf.Name(), 20))
	}
	s.Bucket = s.NewBucket(t)
	return s
}
