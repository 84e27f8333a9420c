// Command inlet-bench runs Inlet's benchmarks against real services it
// starts on this machine, and prints the results as a table.
//
//	go run ./cmd/inlet-bench cdc       # BENCH_CHANGES=200000 BENCH_ROWS=200000
//	go run ./cmd/inlet-bench scale     # BENCH_CHANGES=200000 BENCH_ENGINES=1,2
//	go run ./cmd/inlet-bench snapshot  # BENCH_ROWS=5000000 BENCH_WORKERS=<cpus/2>
//	go run ./cmd/inlet-bench summary   # BENCH_ROWS=10000000 BENCH_BATCH_PER_DAY=100
//	go run ./cmd/inlet-bench http      # BENCH_RECORDS=1000000
//	go run ./cmd/inlet-bench freshness # BENCH_RATES=1000,5000,20000 BENCH_SECONDS=10
//	go run ./cmd/inlet-bench verify    # BENCH_ROWS=1000000
//	go run ./cmd/inlet-bench lakelog   # BENCH_COMMITS=200,2000,20000 BENCH_ROWS_PER_COMMIT=10
package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/inlet-dev/inlet/internal/bench"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: inlet-bench cdc|scale|snapshot|summary|http|freshness|verify|lakelog")
		os.Exit(2)
	}
	// Some benches run the Kafka broker (kfake, which keeps every record in
	// memory) in this process. With Go's default GOGC its collector rescans
	// millions of records ever more often and took 4-16 CPU s of a 5M-row
	// snapshot stage from the two CPUs Inlet is measured on; memory is
	// plentiful here, so collect less often. GOGC still overrides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(800)
	}
	os.Exit(bench.Main(os.Args[1]))
}
