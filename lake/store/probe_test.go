package store_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/inlet-dev/inlet/internal/testenv"
	"github.com/inlet-dev/inlet/lake/store"
)

// TestProbeRefusesStoreIgnoringIfNoneMatch: in front of a real S3 server,
// a proxy turns 412 Precondition Failed into 200 OK (what a client sees
// of a store that ignores If-None-Match: the second PUT "succeeds"); the
// store is refused at open with a message saying why and what to use.
func TestProbeRefusesStoreIgnoringIfNoneMatch(t *testing.T) {
	s := testenv.StartS3(t)
	target, _ := url.Parse(s.Endpoint)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(r *http.Response) error {
		if r.StatusCode == http.StatusPreconditionFailed {
			r.StatusCode, r.Status = http.StatusOK, "200 OK"
			r.Body = http.NoBody
			r.ContentLength = 0
			r.Header.Del("Content-Length")
		}
		return nil
	}
	proxy := httptest.NewServer(rp)
	defer proxy.Close()
	o := store.S3Options{Bucket: s.Bucket, Endpoint: proxy.URL, Region: "us-east-1", PathStyle: true, AccessKeyID: s.AccessKey, SecretAccessKey: s.SecretKey}
	_, err := store.NewS3(context.Background(), o)
	if err == nil {
		t.Fatal("a store that ignores If-None-Match was accepted")
	}
	for _, want := range []string{"ignores If-None-Match", "two writers could both commit one Delta version", "file://"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// Straight to the server, the probe passes.
	o.Endpoint = s.Endpoint
	if _, err := store.NewS3(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	// Wrong credentials: a message naming what to check, without the secret.
	o.SecretAccessKey = "wrong-secret-xyz"
	_, err = store.NewS3(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "lake.s3.endpoint") || strings.Contains(err.Error(), "wrong-secret-xyz") {
		t.Fatalf("wrong secret: %v", err)
	}
}
