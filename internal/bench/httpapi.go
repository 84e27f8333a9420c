package bench

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// runHTTP measures an HTTP API source pulling BENCH_RECORDS records
// (default 1,000,000) from a local API in pages of 1,000 into Kafka: from
// start until the committed position's cursor reaches the newest record.
// The API (in this process) renders each page as JSON per request, so
// its cost is on the same 2 CPUs too.
func runHTTP(e *env) error {
	n := envInt("BENCH_RECORDS", 1_000_000)
	const size = 1000
	type rec struct {
		ID      int            `json:"id"`
		Title   string         `json:"title"`
		Status  string         `json:"status"`
		Amount  float64        `json:"amount"`
		Tags    []string       `json:"tags"`
		Meta    map[string]int `json:"meta"`
		Updated string         `json:"updated_at"`
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	updated := func(i int) time.Time { return base.Add(time.Duration(i/3) * time.Millisecond) } // ties of 3
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		q := r.URL.Query()
		lo := 0
		if s := q.Get("updated_since"); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				http.Error(w, "bad updated_since", 400)
				return
			}
			lo = sort.Search(n, func(i int) bool { return !updated(i).Before(t) })
		}
		page, _ := strconv.Atoi(q.Get("page"))
		start := min(lo+(page-1)*size, n)
		end := min(start+size, n)
		out := make([]rec, 0, end-start)
		for i := start; i < end; i++ {
			out = append(out, rec{ID: i + 1, Title: "ticket " + strconv.Itoa(i+1), Status: []string{"open", "pending", "closed"}[i%3],
				Amount: float64(i%10000) / 100, Tags: []string{"a", "b"}, Meta: map[string]int{"v": i % 7}, Updated: updated(i).Format(time.RFC3339Nano)})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"data": out})
	}))
	e.Cleanup(srv.Close)
	last := updated(n - 1).Format(time.RFC3339Nano)

	broker, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0),
		kfake.BrokerConfigs(map[string]string{"transaction.max.timeout.ms": "900000"}))
	if err != nil {
		return err
	}
	e.Cleanup(broker.Close)
	brokers := broker.ListenAddrs()
	dir, bin, err := workDir(e, "inlet-bench-http-")
	if err != nil {
		return err
	}
	cfg := filepath.Join(dir, "pipeline.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`pipeline: bhttp
state_dir: %[1]s/state
kafka:
  brokers: [%[2]q]
sources:
  - name: tickets
    http:
      url: "%[3]s/tickets"
      records: /data
      primary_key: [id]
      cursor: {field: updated_at, param: updated_since, format: rfc3339}
      pagination: {type: page, page_param: page, size_param: per_page, size: %[4]d}
      poll_interval: 1h
lake:
  path: "file://%[1]s/lake"
`, dir, brokers[0], srv.URL, size)), 0o644)
	logf, _ := os.Create(filepath.Join(dir, "inlet.log"))
	defer logf.Close()
	cmd := exec.Command(bin, "run", "-c", cfg, "--only", "sources")
	cmd.Stdout, cmd.Stderr = logf, logf
	if prof := os.Getenv("BENCH_CPUPROFILE"); prof != "" {
		cmd.Env = append(os.Environ(), "INLET_CPUPROFILE="+prof)
	}
	w, err := watchPosition(brokers, "bhttp._inlet_offsets", "tickets", func(v json.RawMessage) bool {
		var p struct {
			Cursor string `json:"cursor"`
		}
		return json.Unmarshal(v, &p) == nil && p.Cursor == last
	})
	if err != nil {
		return err
	}
	defer w.Close()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	err = waitFor(20*time.Minute, w.Done)
	took := time.Since(start)
	rss := peakRSS(cmd.Process.Pid)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if err != nil {
		return fmt.Errorf("http source: %w (see %s)", err, logf.Name())
	}
	fmt.Printf("\nInlet HTTP source benchmark: %d records in pages of %d from a local API (JSON rendered per request, in the bench process)\n", n, size)
	fmt.Printf("machine: %d CPUs, %s/%s; API and Kafka broker (kfake) in the bench process\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	fmt.Printf("| %-48s | %9s | %8s | %10s | %8s | %13s |\n", "stage", "records", "seconds", "records/s", "requests", "peak RSS (MB)")
	fmt.Printf("|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 50), strings.Repeat("-", 11), strings.Repeat("-", 10), strings.Repeat("-", 12), strings.Repeat("-", 10), strings.Repeat("-", 15))
	fmt.Printf("| %-48s | %9d | %8.2f | %10.0f | %8d | %13d |\n", "inlet --only sources: API -> Kafka, committed", n, took.Seconds(), float64(n)/took.Seconds(), requests.Load(), rss>>20)
	fmt.Printf("\nrequests: %d pages of %d plus the last, empty page\n", (n+size-1)/size, size)
	return nil
}
