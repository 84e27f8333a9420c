package lineage

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/inlet-dev/inlet/internal/config"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func load(t *testing.T, files ...string) []*config.Config {
	t.Helper()
	var out []*config.Config
	for _, f := range files {
		c, err := config.Load(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// TestGolden renders two pipelines that read the same Postgres table (with
// different users and passwords) in every format.
func TestGolden(t *testing.T) {
	g, err := Build(load(t, "shop.yaml", "billing.yaml")...)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range Formats {
		t.Run(f, func(t *testing.T) {
			var b bytes.Buffer
			if err := g.Write(&b, f); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "two-pipelines."+f)
			if *update {
				os.WriteFile(path, b.Bytes(), 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(want), b.String()); d != "" {
				t.Errorf("%s differs (-want +got); run go test -update if intended:\n%s", path, d)
			}
			if strings.Contains(b.String(), "secret") || strings.Contains(b.String(), "token=") {
				t.Errorf("%s output leaks a credential:\n%s", f, b.String())
			}
		})
	}
}

func TestSharedAndDownstream(t *testing.T) {
	g, err := Build(load(t, "shop.yaml", "billing.yaml")...)
	if err != nil {
		t.Fatal(err)
	}
	src := "pg:db.example.com:5432/app/public.orders"
	n, ok := g.Node(src)
	if !ok || !cmp.Equal(n.Pipelines, []string{"billing", "shop"}) {
		t.Fatalf("shared source %s: %+v %v; want one node read by billing and shop", src, n, ok)
	}
	if got := g.Resolve("public.orders"); !cmp.Equal(got, []string{src}) {
		t.Errorf("Resolve(public.orders) = %v", got)
	}
	if got := g.Resolve("orders"); !cmp.Equal(got, []string{src}) {
		t.Errorf("Resolve(orders) = %v", got)
	}
	want := []string{
		"kafka:embedded@shop/shop.public.orders",
		"kafka:kafka-1.example.com:9092,kafka-2.example.com:9092/billing.public.orders",
		"ch:ch.example.com:9000/billing.orders",
		"ch:ch.example.com:9000/shop.orders",
		"lake:/var/lib/inlet/lake/public.orders",
		"ch:ch.example.com:9000/billing.orders_current",
		"ch:ch.example.com:9000/shop.orders_current",
		"ch:ch.example.com:9000/shop.orders_daily",
	}
	if d := cmp.Diff(want, g.Downstream(src)); d != "" {
		t.Errorf("Downstream (-want +got):\n%s", d)
	}
	if got := g.Downstream("ch:ch.example.com:9000/shop.orders_daily"); len(got) != 0 {
		t.Errorf("a summary has no dependants, got %v", got)
	}
	if got := g.Resolve("shop.orders_current"); !cmp.Equal(got, []string{"ch:ch.example.com:9000/shop.orders_current"}) {
		t.Errorf("Resolve(view name) = %v", got)
	}
}

// TestSharedClickHouseTable: two pipelines writing one ClickHouse database
// share its mirror, view and summary nodes.
func TestSharedClickHouseTable(t *testing.T) {
	a := load(t, "shop.yaml")[0]
	b := load(t, "shop.yaml")[0]
	b.Pipeline = "shop2"
	b.Lake = nil
	g, err := Build(a, b)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := g.Node("ch:ch.example.com:9000/shop.orders")
	if !cmp.Equal(n.Pipelines, []string{"shop", "shop2"}) {
		t.Errorf("mirror pipelines %v, want both", n.Pipelines)
	}
	topics := 0
	for _, n := range g.Nodes {
		if n.Kind == KafkaTopic {
			topics++
		}
	}
	if topics != 4 {
		t.Errorf("%d topics, want 4 (each pipeline has its own)", topics)
	}
}
