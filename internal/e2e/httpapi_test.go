package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/internal/testenv"
)

// apiData is a mutable dataset served like a SaaS list endpoint:
// GET /items?updated_since=X (inclusive) returns records with updated >= X
// sorted by (updated, id), paged the way the source is configured.
type apiData struct {
	mu      sync.Mutex
	format  string // cursor format the API speaks
	paging  string
	size    int
	token   string
	tick    int64 // logical clock (ms); every mutation advances it
	step    int64
	recs    map[int]*apiRec
	faults  []int // statuses to answer next (0: a malformed page)
	calls   int
	changes int // record versions a reader polling between steps sees
}

type apiRec struct {
	ID       int
	Title    string
	Status   string
	N        int
	Priority float64 // sent only when set: a field that appears later
	Updated  int64
}

func newAPI(format, paging string, size int) *apiData {
	step := int64(1)
	if format == "unix" {
		step = 1000 // one-second resolution: keep versions apart
	}
	return &apiData{format: format, paging: paging, size: size, tick: 1_767_225_600_000, step: step, recs: map[int]*apiRec{}, token: "s3cr3t-token-value"}
}

func (a *apiData) cursorText(t int64) any {
	switch a.format {
	case "rfc3339":
		return time.UnixMilli(t).UTC().Format(time.RFC3339Nano)
	case "unix":
		return t / 1000
	case "unix_ms":
		return t
	case "integer":
		return t
	}
	return fmt.Sprintf("v%015d", t)
}

func (a *apiData) parseBound(s string) (int64, error) {
	switch a.format {
	case "rfc3339":
		t, err := time.Parse(time.RFC3339Nano, s)
		return t.UnixMilli(), err
	case "unix":
		n, err := strconv.ParseInt(s, 10, 64)
		return n * 1000, err
	case "unix_ms", "integer":
		return strconv.ParseInt(s, 10, 64)
	}
	return strconv.ParseInt(strings.TrimPrefix(s, "v"), 10, 64)
}

// upsert changes or adds records, all at one new tick (ties), or at
// an explicit tick (late arrivals).
func (a *apiData) upsert(at int64, recs ...apiRec) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if at == 0 {
		a.tick += a.step
		at = a.tick
	}
	for _, r := range recs {
		r := r
		r.Updated = at
		a.recs[r.ID] = &r
		a.changes++
	}
}

func (a *apiData) remove(ids ...int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, id := range ids {
		delete(a.recs, id)
	}
}

func (a *apiData) inject(statuses ...int) {
	a.mu.Lock()
	a.faults = append(a.faults, statuses...)
	a.mu.Unlock()
}

// lines renders the dataset as the ClickHouse comparison does.
func (a *apiData) lines() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, r := range a.recs {
		out = append(out, fmt.Sprintf("%d|%s|%s|%d", r.ID, r.Title, r.Status, r.N))
	}
	sort.Strings(out)
	return out
}

func (a *apiData) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	if req.Header.Get("Authorization") != "Bearer "+a.token {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if len(a.faults) > 0 {
		f := a.faults[0]
		a.faults = a.faults[1:]
		switch f {
		case 0:
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><body>502 Bad Gateway (proxy)</body></html>"))
			return
		case http.StatusTooManyRequests:
			w.Header().Set("Retry-After", "1")
		}
		http.Error(w, http.StatusText(f), f)
		return
	}
	q := req.URL.Query()
	lo := int64(-1 << 62)
	if s := q.Get("updated_since"); s != "" {
		var err error
		if lo, err = a.parseBound(s); err != nil {
			http.Error(w, "bad updated_since", http.StatusBadRequest)
			return
		}
	}
	var list []*apiRec
	for _, r := range a.recs {
		if r.Updated >= lo {
			list = append(list, r)
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Updated != list[j].Updated {
			return list[i].Updated < list[j].Updated
		}
		return list[i].ID < list[j].ID
	})
	start, end := 0, len(list)
	body := map[string]any{}
	switch a.paging {
	case "page":
		p, _ := strconv.Atoi(q.Get("page"))
		start = (p - 1) * a.size
	case "offset":
		start, _ = strconv.Atoi(q.Get("offset"))
	case "cursor", "link":
		start, _ = strconv.Atoi(q.Get("page_token"))
	}
	if a.paging != "none" {
		end = min(start+a.size, len(list))
	}
	start = min(max(start, 0), len(list))
	page := list[start:end]
	switch {
	case a.paging == "cursor" && end < len(list):
		body["next"] = strconv.Itoa(end)
	case a.paging == "cursor":
		body["next"] = nil
	case a.paging == "link" && end < len(list):
		nq := req.URL.Query()
		nq.Set("page_token", strconv.Itoa(end))
		w.Header().Add("Link", fmt.Sprintf(`<%s?%s>; rel="next", <%s>; rel="first"`, req.URL.Path, nq.Encode(), req.URL.Path))
	}
	items := make([]map[string]any, 0, len(page))
	for _, r := range page {
		item := map[string]any{"id": r.ID, "title": r.Title, "status": r.Status, "n": r.N,
			"updated": a.cursorText(r.Updated), "meta": map[string]any{"len": len(r.Title)}}
		if r.Priority != 0 {
			item["priority"] = r.Priority
		}
		items = append(items, item)
	}
	body["data"] = items
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

func startAPI(a *apiData) *httptest.Server { return httptest.NewServer(a) }

// TestHTTPSources runs one pipeline with an HTTP source per pagination type
// and cursor format, each against its own mutable API: an initial load
// with equal-timestamp ties across pages, updates and inserts between
// polls, late arrivals inside the lookback, 429s with Retry-After, 500s and
// a malformed page, and a full_refresh source whose records disappear.
// After each step ClickHouse's _current view equals the dataset; at the
// end the lake has exactly one row per change and no (id, _version)
// twice, and the API token never appears in the log.
func TestHTTPSources(t *testing.T) {
	ch := testenv.StartClickHouse(t)
	type srcSpec struct{ name, format, paging string }
	specs := []srcSpec{{"t_page", "rfc3339", "page"}, {"t_offset", "unix", "offset"}, {"t_cursor", "unix_ms", "cursor"},
		{"t_link", "integer", "link"}, {"t_none", "string", "none"}, {"t_full", "rfc3339", "page"}}
	apis := map[string]*apiData{}
	var cfgSources strings.Builder
	for _, s := range specs {
		a := newAPI(s.format, s.paging, 7)
		apis[s.name] = a
		srv := startAPI(a)
		t.Cleanup(srv.Close)
		lookback := ""
		if s.format == "rfc3339" || s.format == "unix" || s.format == "unix_ms" {
			lookback = ", lookback: 10m"
		}
		paging := map[string]string{
			"page":   "{type: page, page_param: page, size_param: per_page, size: 7}",
			"offset": "{type: offset, offset_param: offset, limit_param: limit, size: 7}",
			"cursor": "{type: cursor, token_path: /next, token_param: page_token}",
			"link":   "{type: link}",
			"none":   "{type: none}",
		}[s.paging]
		mode := "incremental"
		if s.name == "t_full" {
			mode = "full_refresh"
		}
		fmt.Fprintf(&cfgSources, `  - name: %s
    http:
      url: "%s/items"
      headers: {Authorization: "Bearer ${INLET_TEST_API_TOKEN}"}
      params: {sort: updated}
      records: /data
      primary_key: [id]
      cursor: {field: updated, param: updated_since, format: %s%s}
      pagination: %s
      poll_interval: 1s
      max_retries: 3
      mode: %s
`, s.name, srv.URL, s.format, lookback, paging, mode)
	}
	t.Setenv("INLET_TEST_API_TOKEN", "s3cr3t-token-value")
	dir := testDir(t, "inlet-http-")
	cfg := writePipeline(t, dir, cfgSources.String(), ch.Addr, "engine:\n  batch_wait: 200ms\n  batch_records: 7 # small batches: a full refresh's marker often comes alone\n")
	if out, err := execInlet("validate", "-c", cfg); err != nil {
		t.Fatalf("validate: %v\n%s", err, out)
	}
	logPath := filepath.Join(dir, "inlet.log")
	chConn := ch.Connect(t)
	ctx := context.Background()

	next := 1
	recs := func(n int, status string) []apiRec {
		var out []apiRec
		for i := 0; i < n; i++ {
			out = append(out, apiRec{ID: next, Title: fmt.Sprintf("ticket %d", next), Status: status, N: next % 13})
			next++
		}
		return out
	}
	// Initial data: 20 records share one timestamp (ties across pages of
	// 7), 15 more at their own.
	first := recs(20, "open")
	rest := recs(15, "open")
	for _, a := range apis {
		a.upsert(0, first...)
		for _, r := range rest {
			a.upsert(0, r)
		}
	}
	p := startInlet(t, cfg, logPath)
	waitAll := func(label string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			var diffs []string
			for _, s := range specs {
				got, err := chLines(ctx, chConn, fmt.Sprintf("SELECT toString(id), title, status, toString(n) FROM shop.%s_current", s.name))
				if err != nil {
					diffs = append(diffs, fmt.Sprintf("%s: %v", s.name, err))
					continue
				}
				if d := diffLines(apis[s.name].lines(), got); d != "" {
					diffs = append(diffs, fmt.Sprintf("%s (-api +clickhouse):\n%s", s.name, d))
				}
			}
			if len(diffs) == 0 {
				return
			}
			if err, exited := p.exited(); exited {
				t.Fatalf("%s: inlet exited: %v\n%s", label, err, tailFile(logPath, 30))
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: after 60s:\n%s\nlog:\n%s", label, strings.Join(diffs, "\n"), tailFile(logPath, 30))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitAll("initial load")

	// Updates (one timestamp for all: ties again) and inserts.
	for _, a := range apis {
		var upd []apiRec
		for id := 3; id <= 24; id += 3 {
			upd = append(upd, apiRec{ID: id, Title: fmt.Sprintf("ticket %d (edited)", id), Status: "pending", N: id})
		}
		a.upsert(0, upd...)
	}
	more := recs(6, "new")
	for i := range more[3:] {
		more[3+i].Priority = float64(i) + 0.5 // a new field: a new column
	}
	for _, a := range apis {
		a.upsert(0, more[:3]...)
		a.upsert(0, more[3:]...)
	}
	waitAll("updates and inserts")
	for _, s := range specs {
		got, err := chLines(ctx, chConn, fmt.Sprintf("SELECT toString(id), toString(priority) FROM shop.%s_current WHERE priority IS NOT NULL", s.name))
		if err != nil || len(got) != 3 {
			t.Errorf("%s: the new field priority in clickhouse: %v, %v", s.name, got, err)
		}
	}

	// A late arrival: a record (and an update) stamped before the newest
	// cursor already read, inside the lookback.
	late := recs(1, "late")
	for name, a := range apis {
		at := int64(0)
		if name != "t_link" && name != "t_none" {
			a.mu.Lock()
			at = a.tick - a.step
			a.mu.Unlock()
		}
		a.upsert(at, late[0], apiRec{ID: 5, Title: "ticket 5 (late edit)", Status: "late", N: 55})
	}
	waitAll("late arrivals")

	// Faults: rate limited, a server error, a malformed page.
	apis["t_page"].inject(http.StatusTooManyRequests, http.StatusInternalServerError)
	apis["t_cursor"].inject(0)
	apis["t_offset"].inject(0, http.StatusServiceUnavailable)
	for _, a := range apis {
		a.upsert(0, apiRec{ID: 7, Title: "ticket 7 (after faults)", Status: "closed", N: 70})
	}
	waitAll("after faults")

	// Full refresh: records removed upstream disappear.
	apis["t_full"].remove(1, 2, 3, 10)
	apis["t_full"].upsert(0, apiRec{ID: 11, Title: "ticket 11 (refreshed)", Status: "closed", N: 111})
	waitAll("full refresh with deletes")
	p.stop(t, syscall.SIGTERM)

	log := string(mustRead(t, logPath))
	if strings.Contains(log, "s3cr3t-token-value") {
		t.Errorf("the API token appears in the log")
	}
	for _, want := range []string{"incident: http poll failed", "the body is not JSON", `body starts \"<html>`, "incident resolved: http poll succeeded"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, tailFile(logPath, 40))
		}
	}
	// The lake: one row per change, none twice.
	db := duck(t)
	for _, s := range specs {
		tableDir := filepath.Join(dir, "lake", s.name)
		if s.name == "t_full" {
			files := lakeCurrent(t, tableDir, -1)
			var n int
			db.QueryRow("SELECT count(*) FROM " + parquetList(files)).Scan(&n)
			if n != len(apis[s.name].lines()) {
				t.Errorf("%s: the lake's current version has %d rows, the API %d", s.name, n, len(apis[s.name].lines()))
			}
			continue
		}
		files, n := lakeFiles(t, tableDir)
		var withPriority int
		union := strings.TrimSuffix(parquetList(files), ")") + ", union_by_name = true)" // files from before the new column lack it
		if err := db.QueryRow("SELECT count(*) FROM " + union + " WHERE priority IS NOT NULL").Scan(&withPriority); err != nil {
			t.Errorf("%s: %v", s.name, err)
		}
		if withPriority != 3 {
			t.Errorf("%s: lake has %d rows with the new field priority, want 3", s.name, withPriority)
		}
		var dups int
		db.QueryRow("SELECT count(*) - count(DISTINCT (id, _version)) FROM " + parquetList(files)).Scan(&dups)
		if want := apis[s.name].changes; n != want || dups != 0 {
			t.Errorf("%s: lake has %d rows (%d duplicated (id, _version)); the API made %d changes", s.name, n, dups, want)
		}
	}
	out, _ := execInlet("describe", "-c", cfg)
	if !strings.Contains(out, "shop.t_page_current") || strings.Contains(out, "s3cr3t") {
		t.Errorf("describe:\n%s", out)
	}
	out, _ = execInlet("status", "-c", cfg)
	if !strings.Contains(out, "HTTP SOURCE") || !strings.Contains(out, "t_cursor") || strings.Contains(out, "s3cr3t") {
		t.Errorf("status:\n%s", out)
	}
}

// TestHTTPCrashDuringPaging kills inlet (SIGKILL) at random instants while
// it pages through an API (slow pages of 50) that keeps changing; after
// the restarts the ClickHouse view equals the dataset, the lake's latest
// image per id equals it too, and no (id, _version) is in the lake twice.
func TestHTTPCrashDuringPaging(t *testing.T) {
	ch := testenv.StartClickHouse(t)
	a := newAPI("rfc3339", "page", 50)
	for i := 1; i <= 3000; i += 100 {
		var batch []apiRec
		for id := i; id < i+100; id++ {
			batch = append(batch, apiRec{ID: id, Title: fmt.Sprintf("ticket %d", id), Status: "open", N: id % 7})
		}
		a.upsert(0, batch...) // ties: 100 records per timestamp, 2 pages each
	}
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(15 * time.Millisecond)
		a.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(slow)
	t.Cleanup(srv.Close)
	t.Setenv("INLET_TEST_API_TOKEN", a.token)
	dir := testDir(t, "inlet-http-crash-")
	cfg := writePipeline(t, dir, fmt.Sprintf(`  - name: tickets
    http:
      url: "%s/items"
      headers: {Authorization: "Bearer ${INLET_TEST_API_TOKEN}"}
      records: /data
      primary_key: [id]
      cursor: {field: updated, param: updated_since, format: rfc3339, lookback: 1m}
      pagination: {type: page, page_param: page, size_param: per_page, size: 50}
      poll_interval: 1s
`, srv.URL), ch.Addr, "engine:\n  batch_wait: 200ms\n")
	logPath := filepath.Join(dir, "inlet.log")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // updates keep coming, some in ties
		defer wg.Done()
		rng := rand.New(rand.NewSource(5))
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			var batch []apiRec
			for j := 0; j < 1+rng.Intn(3); j++ {
				id := 1 + rng.Intn(3200)
				batch = append(batch, apiRec{ID: id, Title: fmt.Sprintf("ticket %d v%d", id, i), Status: []string{"open", "pending", "closed"}[rng.Intn(3)], N: i})
			}
			a.upsert(0, batch...)
		}
	}()
	rng := rand.New(rand.NewSource(9))
	p := startInlet(t, cfg, logPath)
	for i := 0; i < 8; i++ {
		time.Sleep(time.Duration(300+rng.Intn(1500)) * time.Millisecond)
		p.stop(t, syscall.SIGKILL)
		p = startInlet(t, cfg, logPath)
	}
	close(stop)
	wg.Wait()
	chConn := ch.Connect(t)
	ctx := context.Background()
	deadline := time.Now().Add(90 * time.Second)
	for {
		got, err := chLines(ctx, chConn, "SELECT toString(id), title, status, toString(n) FROM shop.tickets_current")
		d := ""
		if err == nil {
			d = diffLines(a.lines(), got)
		}
		if err == nil && d == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the crashes clickhouse differs from the API (err %v):\n%s\n%s", err, d, tailFile(logPath, 20))
		}
		time.Sleep(300 * time.Millisecond)
	}
	time.Sleep(time.Second)
	p.stop(t, syscall.SIGTERM)
	db := duck(t)
	files, n := lakeFiles(t, filepath.Join(dir, "lake", "tickets"))
	var dups int
	db.QueryRow("SELECT count(*) - count(DISTINCT (id, _version)) FROM " + parquetList(files)).Scan(&dups)
	if dups != 0 {
		t.Errorf("lake has %d duplicated (id, _version) of %d rows", dups, n)
	}
	rows, err := db.Query(`SELECT id::VARCHAR || '|' || title || '|' || status || '|' || n::VARCHAR FROM (
		SELECT *, row_number() OVER (PARTITION BY id ORDER BY _version DESC, _kafka_offset DESC) AS rn FROM ` + parquetList(files) + `) WHERE rn = 1`)
	if err != nil {
		t.Fatal(err)
	}
	var lake []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		lake = append(lake, s)
	}
	rows.Close()
	sort.Strings(lake)
	if d := diffLines(a.lines(), lake); d != "" {
		t.Errorf("the lake's latest images differ from the API (-api +lake):\n%s", d)
	}
	t.Logf("%d lake rows for %d API changes; %d requests", n, a.changes, a.calls)
}
