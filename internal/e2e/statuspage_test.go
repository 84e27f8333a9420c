package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/internal/lineage"
	"github.com/inlet-dev/inlet/internal/testenv"
)

// chromium finds the browser the status page test drives. A missing one
// is a setup failure, never a skip.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: the status page test drives a headless browser. Install it with: sudo apt-get install -y chromium (scripts/deps.sh does)")
	return ""
}

// browser is a headless chromium tab that records every console error,
// uncaught exception and browser log error.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T, dir string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox, chromedp.Headless,
		chromedp.DisableGPU, chromedp.WindowSize(1440, 1000), chromedp.UserDataDir(filepath.Join(dir, "chromium")))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
				return
			}
			var parts []string
			for _, a := range ev.Args {
				if len(a.Value) > 0 {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			msg = "console." + string(ev.Type) + ": " + strings.Join(parts, " ")
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg = fmt.Sprintf("exception: %s at %s:%d", d.Text, d.URL, d.LineNumber+1)
			if d.Exception != nil {
				msg += ": " + d.Exception.Description
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level != log.EntryLevelError {
				return
			}
			msg = "browser log error: " + ev.Entry.Text + " " + ev.Entry.URL
		default:
			return
		}
		b.mu.Lock()
		b.errors = append(b.errors, msg)
		b.mu.Unlock()
	}))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b.ctx = ctx
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

func (b *browser) navigate(t *testing.T, u string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		t.Fatalf("navigate %s: %v", u, err)
	}
}

func eval[T any](t *testing.T, b *browser, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// screenshot saves the whole page as a PNG in dir and returns its path.
func (b *browser) screenshot(t *testing.T, dir, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

// graphHealth is every drawn node's health, by node id.
const graphHealth = `Object.fromEntries(Array.from(document.querySelectorAll('svg.graph g.node')).map(g => [g.dataset.id, g.dataset.health]))`

// waitGraph polls the drawn graph until ok accepts it.
func waitGraph(t *testing.T, b *browser, p *inletProc, what string, timeout time.Duration, ok func(map[string]string) string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if err, done := p.exited(); done {
			t.Fatalf("inlet exited (%v); log:\n%s", err, tailFile(p.log, 40))
		}
		got := eval[map[string]string](t, b, graphHealth)
		miss := ok(got)
		if miss == "" {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %s\ngraph: %v\nlog:\n%s", what, timeout, miss, got, tailFile(p.log, 30))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestStatusPage drives the status page of a running pipeline in headless
// chromium: the graph shows every node of the pipeline's lineage, all ok;
// ClickHouse frozen (SIGSTOP) turns its mirrors and views failing and the
// summary built on them stale within seconds, with an open incident;
// resumed (SIGCONT), everything is ok again and the incident resolved.
// The table, incidents and checkpoints pages render; the page fits a
// phone's width; the browser logs no error. Then `inlet serve` shows the
// stopped pipeline read-only, every node stale.
//
// Also: every lake table, topic and source node shows its last hour's
// throughput once changes flow; with ClickHouse frozen longer than
// incidents.escalate_after (1m here) the escalation banner names the
// clickhouse incident; resumed, the banner goes. (A frozen server fails no
// batch — the sink stalls until the client's timeout — so OpenLineage FAIL
// events are tested in internal/runner.)
func TestStatusPage(t *testing.T) {
	e := setup(t)
	if err := os.WriteFile(e.cfg, append(mustRead(t, e.cfg), "incidents:\n  escalate_after: 1m\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	e.workld.preload(t, e.conn, preload)
	cfg, err := config.Load(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	g, err := lineage.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kind := map[string]lineage.Kind{}
	var summaryID string
	for _, n := range g.Nodes {
		kind[n.ID] = n.Kind
		if n.Kind == lineage.CHSummary {
			summaryID = n.ID
		}
	}

	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	p := startInlet(t, e.cfg, e.log, "--http", addr)
	e.waitSnapshot(t, p)
	tr := startTrickle(t, e)
	defer func() {
		select {
		case <-tr.stopc:
		default:
			tr.stop()
		}
	}()
	b := newBrowser(t, e.dir)
	base := "http://" + addr
	b.navigate(t, base+"/?node="+url.QueryEscape(summaryID))

	allOK := func(got map[string]string) string {
		var bad []string
		for _, n := range g.Nodes {
			if h, ok := got[n.ID]; !ok {
				bad = append(bad, n.ID+" not drawn")
			} else if h != "ok" {
				bad = append(bad, n.Name+" "+h)
			}
		}
		if len(got) != len(g.Nodes) {
			bad = append(bad, fmt.Sprintf("%d nodes drawn, the lineage has %d", len(got), len(g.Nodes)))
		}
		sort.Strings(bad)
		return strings.Join(bad, "; ")
	}
	waitGraph(t, b, p, "every node drawn and ok", 90*time.Second, allOK)
	// Row counts: the lake tables, the ClickHouse views and the summary
	// show theirs once the page's collector has read them.
	deadline := time.Now().Add(30 * time.Second)
	for {
		missing := eval[[]string](t, b, `Array.from(document.querySelectorAll('svg.graph g.node')).filter(g =>
			['lake_table', 'clickhouse_view', 'clickhouse_summary'].includes(g.dataset.kind) && !g.dataset.rows).map(g => g.dataset.name)`)
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no row count on %v", missing)
		}
		time.Sleep(300 * time.Millisecond)
	}
	waitGraph(t, b, p, "every node ok", 30*time.Second, allOK)
	// Throughput: the changes of the last hour on every lake table and on
	// the topics and sources upstream of them.
	deadline = time.Now().Add(60 * time.Second)
	for {
		missing := eval[[]string](t, b, `Array.from(document.querySelectorAll('svg.graph g.node')).filter(g =>
			['lake_table', 'kafka_topic', 'postgres_table'].includes(g.dataset.kind) && !(Number(g.dataset.throughput) > 0)).map(g => g.dataset.name)`)
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no throughput on %v", missing)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if n := eval[int](t, b, `document.querySelectorAll('svg.graph polyline.spark').length`); n == 0 {
		t.Error("no throughput sparkline drawn")
	}
	b.screenshot(t, e.dir, "status-page-ok.png")

	// ClickHouse frozen: its nodes failing, the summary stale, the rest ok.
	if err := e.ch.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			e.ch.Signal(syscall.SIGCONT)
		}
	}
	t.Cleanup(thaw)
	waitGraph(t, b, p, "ClickHouse frozen: its nodes failing, the summary stale", 45*time.Second, func(got map[string]string) string {
		var bad []string
		for id, k := range kind {
			want := "ok"
			switch k {
			case lineage.CHMirror, lineage.CHView:
				want = "failing"
			case lineage.CHSummary:
				want = "stale"
			}
			if got[id] != want {
				bad = append(bad, fmt.Sprintf("%s %s (want %s)", id, got[id], want))
			}
		}
		sort.Strings(bad)
		return strings.Join(bad, "; ")
	})
	t.Logf("ClickHouse frozen: the page showed it after %v", time.Since(frozen).Round(100*time.Millisecond))
	// The summary's details say why, and the incident is open.
	deadline = time.Now().Add(30 * time.Second)
	for {
		reasons := eval[string](t, b, `(document.querySelector('#details ul.reasons') || {textContent: ''}).textContent`)
		open := eval[string](t, b, `document.getElementById('open-count').textContent`)
		if strings.Contains(reasons, "upstream clickhouse sink") && open != "" {
			t.Logf("summary stale: %s; open incidents: %s", reasons, open)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no upstream reason on the summary (%q) or no open incident (%q)", reasons, open)
		}
		time.Sleep(300 * time.Millisecond)
	}
	shot := b.screenshot(t, e.dir, "status-page-clickhouse-frozen.png")
	// Frozen longer than escalate_after: the banner names the incident.
	deadline = time.Now().Add(100 * time.Second)
	for eval[int](t, b, `document.getElementById('escalation').hidden ? 0 : document.querySelectorAll('#escalation li[data-subject="sink=clickhouse"]').length`) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no escalation banner for the clickhouse incident %v after the freeze", time.Since(frozen).Round(time.Second))
		}
		time.Sleep(time.Second)
	}
	t.Logf("escalation banner after %v: %s", time.Since(frozen).Round(time.Second), eval[string](t, b, `document.getElementById('escalation').innerText`))
	b.screenshot(t, e.dir, "status-page-escalated.png")
	// The docs' picture: written when missing or asked for, so a test run
	// does not rewrite a tracked file every time.
	docsShot := filepath.Join("..", "..", "docs", "status-page.png")
	if _, err := os.Stat(docsShot); os.IsNotExist(err) || os.Getenv("INLET_UPDATE_DOCS") != "" {
		if png, err := os.ReadFile(shot); err == nil {
			if err := os.WriteFile(docsShot, png, 0o644); err != nil {
				t.Errorf("docs/status-page.png: %v", err)
			}
			t.Logf("docs/status-page.png updated from %s", shot)
		}
	} else {
		t.Logf("docs/status-page.png kept (INLET_UPDATE_DOCS=1 replaces it with %s)", shot)
	}
	b.navigate(t, base+"/incidents")
	deadline = time.Now().Add(15 * time.Second)
	for eval[int](t, b, `document.querySelectorAll('li.open[data-subject="sink=clickhouse"]').length`) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the incidents page shows no open clickhouse incident:\n%s", eval[string](t, b, `document.getElementById('main').innerText`))
		}
		time.Sleep(300 * time.Millisecond)
	}
	b.screenshot(t, e.dir, "status-page-incidents.png")

	// Resumed: everything ok again, the incident resolved.
	thaw()
	b.navigate(t, base+"/")
	waitGraph(t, b, p, "ClickHouse resumed: every node ok again", 2*time.Minute, allOK)
	deadline = time.Now().Add(30 * time.Second)
	for !eval[bool](t, b, `document.getElementById('escalation').hidden`) {
		if time.Now().After(deadline) {
			t.Fatal("escalation banner still shown after ClickHouse resumed")
		}
		time.Sleep(300 * time.Millisecond)
	}
	deadline = time.Now().Add(30 * time.Second)
	for eval[string](t, b, `document.getElementById('open-count').textContent`) != "" {
		if time.Now().After(deadline) {
			t.Fatal("incidents still open after ClickHouse resumed")
		}
		time.Sleep(300 * time.Millisecond)
	}
	b.navigate(t, base+"/incidents")
	deadline = time.Now().Add(15 * time.Second)
	for eval[int](t, b, `document.querySelectorAll('li.resolved[data-subject="sink=clickhouse"]').length`) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the clickhouse incident is not shown resolved:\n%s", eval[string](t, b, `document.getElementById('main').innerText`))
		}
		time.Sleep(300 * time.Millisecond)
	}

	// The table page: the schema with source types, lake and ClickHouse,
	// the summary's checks.
	b.navigate(t, base+"/table?pipeline=shop&table=sales.customers")
	deadline = time.Now().Add(30 * time.Second)
	for {
		text := eval[string](t, b, `document.getElementById('main').innerText`)
		if strings.Contains(text, "country") && strings.Contains(text, "version") && strings.Contains(text, "customers_by_country") &&
			strings.Contains(text, "passed") && strings.Contains(text, "shop.sales_customers_current") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("table page incomplete:\n%s", text)
		}
		time.Sleep(300 * time.Millisecond)
	}
	b.screenshot(t, e.dir, "status-page-table.png")
	b.navigate(t, base+"/checkpoints")
	deadline = time.Now().Add(15 * time.Second)
	for eval[int](t, b, `document.querySelectorAll('[data-sink] table.t tr').length`) < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("checkpoints page without history:\n%s", eval[string](t, b, `document.getElementById('main').innerText`))
		}
		time.Sleep(300 * time.Millisecond)
	}
	b.screenshot(t, e.dir, "status-page-checkpoints.png")

	// A phone's width: the page does not overflow (the graph scrolls in
	// its own box).
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch), chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	cancel()
	waitGraph(t, b, p, "phone width: graph drawn", 30*time.Second, allOK)
	if w := eval[int](t, b, `document.documentElement.scrollWidth - window.innerWidth`); w > 1 {
		t.Errorf("at a phone's width the page is %dpx wider than the screen", w)
	}
	b.screenshot(t, e.dir, "status-page-phone.png")

	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("the browser logged errors:\n%s", strings.Join(errs, "\n"))
	}

	// inlet serve: the stopped pipeline, read-only from its state dir.
	tr.stop()
	p.stop(t, syscall.SIGTERM)
	serveAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	serve := exec.Command(inletBin, "serve", "-c", e.cfg, "--http", serveAddr)
	serveLog, _ := os.Create(filepath.Join(e.dir, "serve.log"))
	serve.Stdout, serve.Stderr = serveLog, serveLog
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { serve.Process.Kill(); serve.Wait(); serveLog.Close() })
	var st struct {
		Pipelines []struct {
			Running bool `json:"running"`
		} `json:"pipelines"`
		Nodes []struct {
			ID     string `json:"id"`
			Health string `json:"health"`
		} `json:"nodes"`
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + serveAddr + "/api/status")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err := json.Unmarshal(body, &st); err == nil && len(st.Pipelines) == 1 && !st.Pipelines[0].Running {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("inlet serve: no status showing the pipeline stopped (%v); log:\n%s", err, tailFile(filepath.Join(e.dir, "serve.log"), 20))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(st.Nodes) != len(g.Nodes) {
		t.Errorf("inlet serve: %d nodes, want %d", len(st.Nodes), len(g.Nodes))
	}
	for _, n := range st.Nodes {
		if n.Health != "stale" {
			t.Errorf("inlet serve: %s is %s with the pipeline stopped, want stale", n.ID, n.Health)
		}
	}
}
