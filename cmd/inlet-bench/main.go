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

	"github.com/inlet-dev/inlet/internal/bench"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: inlet-bench cdc|scale|snapshot|summary|http|freshness|verify|lakelog")
		os.Exit(2)
	}
	os.Exit(bench.Main(os.Args[1]))
}
