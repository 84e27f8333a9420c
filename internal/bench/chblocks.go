package bench

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/shopspring/decimal"

	"github.com/inlet-dev/inlet/internal/testenv"
)

// runCHBlocks measures what ClickHouse itself spends to take in the same
// rows inserted in blocks of different sizes: BENCH_ROWS rows (default
// 2,000,000) of the snapshot benchmark's table, as Inlet's mirror table
// holds them (ReplacingMergeTree, Nullable columns, the three meta
// columns), into a fresh table per size (BENCH_BLOCKS, default
// 21000,42000,100000: about what one batch, two merged batches and a
// large batch hold), each twice. The server's CPU counts the inserts and
// the merges they cause while they run, and for 5 s after.
func runCHBlocks(e *env) error {
	rows := envInt("BENCH_ROWS", 2000000)
	blocks := envList("BENCH_BLOCKS", []int{21000, 42000, 100000})
	srv := testenv.StartClickHouse(e)
	conn, err := ch.Open(&ch.Options{Addr: []string{srv.Addr}, Protocol: ch.Native})
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	notes := make([]string, 100)
	for i := range notes {
		notes[i] = fmt.Sprintf("%032x %s", i*7919, strings.Repeat("n", i%20))
	}
	statuses := []string{"new", "paid", "shipped", "cancelled"}

	fmt.Printf("\nClickHouse insert block size benchmark: %d rows of the snapshot table into a mirror table (ReplacingMergeTree)\n", rows)
	fmt.Printf("machine: %d CPUs, %s/%s; ClickHouse %s on the same machine\n\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, chVersion(srv))
	fmt.Printf("| %12s | %7s | %9s | %16s | %15s | %13s |\n", "rows/insert", "inserts", "insert s", "server CPU s", "CPU 5 s after", "CPU µs/row")
	fmt.Printf("|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 14), strings.Repeat("-", 9), strings.Repeat("-", 11), strings.Repeat("-", 18), strings.Repeat("-", 17), strings.Repeat("-", 15))
	for round := 0; round < 2; round++ {
		for _, block := range blocks {
			tbl := fmt.Sprintf("snap_%d_%d", block, round)
			if err := conn.Exec(ctx, fmt.Sprintf(`CREATE TABLE default.%s (id Int64, customer Nullable(Int32), status Nullable(String),
				amount Nullable(Decimal(12, 2)), created_at Nullable(DateTime('UTC')), active Nullable(UInt8), note Nullable(String),
				_version UInt64, _deleted UInt8, _synced_at DateTime) ENGINE = ReplacingMergeTree(_version) ORDER BY (id)`, tbl)); err != nil {
				return err
			}
			cpu0, start := cpuTime(srv.Pid()), time.Now()
			inserts := 0
			for off := 0; off < rows; off += block {
				b, err := conn.PrepareBatch(ctx, "INSERT INTO default."+tbl+" (id, customer, status, amount, created_at, active, note, _version, _deleted, _synced_at)")
				if err != nil {
					return err
				}
				for i := off; i < off+block && i < rows; i++ {
					if err := b.Append(int64(i), int32(i%100000), statuses[i%4], decimal.New(int64(i%100000), -2),
						now.Add(time.Duration(i)*time.Second), uint8(i%3), notes[i%100], uint64(i), uint8(0), now); err != nil {
						return err
					}
				}
				if err := b.Send(); err != nil {
					return err
				}
				inserts++
			}
			took, cpu1 := time.Since(start), cpuTime(srv.Pid())
			time.Sleep(5 * time.Second)
			cpu2 := cpuTime(srv.Pid())
			fmt.Printf("| %12d | %7d | %9.2f | %16.2f | %15.2f | %13.2f |\n", block, inserts, took.Seconds(),
				(cpu1 - cpu0).Seconds(), (cpu2 - cpu1).Seconds(), float64((cpu2-cpu0).Microseconds())/float64(rows))
			conn.Exec(ctx, "DROP TABLE default."+tbl)
		}
	}
	return nil
}
