package health

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReadyOnlyWhenEveryStageIs(t *testing.T) {
	r := New()
	src, eng := r.Stage("source pg"), r.Stage("engine")
	get := func() (int, string) {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
		return w.Code, w.Body.String()
	}
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "source pg: not ready: starting") {
		t.Fatalf("new stages: %d %q", code, body)
	}
	src.Ready()
	eng.Ready()
	if code, body := get(); code != http.StatusOK || !strings.Contains(body, "engine: ready") {
		t.Fatalf("all ready: %d %q", code, body)
	}
	src.NotReady("reconnecting: connection refused")
	code, body := get()
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "source pg: not ready: reconnecting: connection refused") || !strings.Contains(body, "engine: ready") {
		t.Fatalf("one stage down: %d %q", code, body)
	}
	var nilStage *Stage
	nilStage.Ready() // no registry: ignored
}
