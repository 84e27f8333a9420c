package chprobe

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/inlet-dev/inlet/internal/testenv"
)

func TestProbe(t *testing.T) {
	ch := testenv.StartClickHouse(t)
	port := strings.Split(ch.Addr, ":")[1]
	q := func(sql string) {
		start := time.Now()
		out, err := exec.Command("clickhouse-client", "--port", port, "--multiquery", "-q", sql).CombinedOutput()
		if len(out) > 300 {
			out = out[:300]
		}
		t.Logf("%s\n=> %v %s (%s)", sql[:min(len(sql), 150)], err, out, time.Since(start))
	}
	q("CREATE TABLE s (day Date, n UInt64) ENGINE = MergeTree PARTITION BY day ORDER BY day")
	q("CREATE TABLE st AS s")
	q("INSERT INTO s SELECT toDate('2025-01-01') + number % 365, 1 FROM numbers(365)")
	q("INSERT INTO st SELECT toDate('2025-01-01') + number % 365, 2 FROM numbers(365)")
	var b strings.Builder
	b.WriteString("ALTER TABLE s ")
	for i := 0; i < 365; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("REPLACE PARTITION CAST('" + time.Date(2025, 1, 1+i, 0, 0, 0, 0, time.UTC).Format("2006-01-02") + "' AS Date) FROM st")
	}
	q(b.String())
	q("SELECT sum(n), count() FROM s")
	start := time.Now()
	for i := 0; i < 20; i++ {
		exec.Command("clickhouse-client", "--port", port, "-q", "ALTER TABLE s REPLACE PARTITION CAST('"+time.Date(2025, 1, 1+i, 0, 0, 0, 0, time.UTC).Format("2006-01-02")+"' AS Date) FROM st").Run()
	}
	t.Logf("20 single ALTERs via client: %s", time.Since(start))
}
