package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestFetchRetries: 503 with Retry-After is retried after the wait the
// server asked for, a 404 is not retried, and retries end after the
// configured number with the attempts named.
func TestFetchRetries(t *testing.T) {
	var hits int
	var first, second time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		switch r.URL.Path {
		case "/busy":
			if hits == 1 {
				first = time.Now()
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			second = time.Now()
			w.Write([]byte(`[]`))
		case "/missing":
			w.WriteHeader(http.StatusNotFound)
		default:
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	f := &fetcher{client: srv.Client(), retries: 2, redact: func(s string) string { return s }}
	get := func(path string) error {
		u, _ := url.Parse(srv.URL + path)
		_, _, err := f.get(context.Background(), u)
		return err
	}
	if err := get("/busy"); err != nil {
		t.Fatal(err)
	}
	if d := second.Sub(first); d < 900*time.Millisecond {
		t.Errorf("retried after %s; Retry-After asked for 1s", d)
	}
	hits = 0
	if err := get("/missing"); err == nil || hits != 1 || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("404: err %v after %d requests; want one request", err, hits)
	}
	hits = 0
	if err := get("/down"); err == nil || hits != 3 || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Errorf("502: err %v after %d requests; want 3", err, hits)
	}
}
