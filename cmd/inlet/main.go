// Command inlet runs exactly-once ingestion pipelines: Postgres CDC through
// Kafka into a Delta lake and ClickHouse.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/inlet-dev/inlet/checkpoint"
	"github.com/inlet-dev/inlet/internal/check"
	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/internal/incident"
	"github.com/inlet-dev/inlet/internal/kafka"
	"github.com/inlet-dev/inlet/internal/runner"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const usage = `inlet: exactly-once CDC from Postgres through Kafka into a Delta lake and ClickHouse

Usage:
  inlet run -c FILE [--only sources [--source NAME]|engine] [--http :9464] [--log-level info]   --http also serves the status page at /
                                      --http :9464 listens on 127.0.0.1; 0.0.0.0:9464 on all interfaces
  inlet serve -c FILE [-c FILE…] --http ADDR   a read-only status page over several pipelines' state dirs
  inlet validate -c FILE [--connect]   check the config; --connect also checks every source and sink
  inlet check -c FILE [--json]        connect to sources and sinks: every problem at once (validate --connect)
  inlet status -c FILE
  inlet incidents -c FILE [--since 24h] [--json]   the incident record: failed batches, polls, checks, skipped duplicates
  inlet describe -c FILE              tables, views and summaries to query, with lineage and freshness
  inlet lineage -c FILE [-c FILE…] [-o text|dot|mermaid|json] [--downstream NODE]   the data-flow graph of one or more pipelines
  inlet verify -c FILE [--table T] [--sample N]   compare Postgres, ClickHouse and the lake row by row (online); exit 1 on drift
  inlet incidents report ID -c FILE   a post-mortem of one incident, in Markdown
  inlet incidents resolve ID -c FILE [--note TEXT]   record that an operator resolved an open incident
  inlet checkpoints -c FILE [--sink lake|clickhouse] [--json]
  inlet resume -c FILE --table T [--sink S]   continue a quarantined table (see inlet status)
  inlet replay -c FILE --sink lake|clickhouse|all --from ID|RFC3339
  inlet rebuild -c FILE --sink clickhouse --from-lake
  inlet adopt-kafka -c FILE --yes     after Kafka lost the topics the sinks consumed: resume them on this Kafka from its start
  inlet backfill -c FILE --table SCHEMA.TABLE [--where SQL]   re-read a table while streaming
  inlet vacuum -c FILE [--dry-run]    delete lake files no kept version references (see docs/lake-maintenance.md)
  inlet teardown -c FILE [--yes]      drop the replication slots and publications
  inlet broker --data-dir DIR --listen HOST:PORT   the embedded Kafka-protocol broker in its own process
  inlet version
`

func main() {
	runner.Version = version
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "run":
		err = cmdRun(args)
	case "validate":
		err = cmdValidate(args, os.Stdout)
	case "check":
		err = cmdCheck(args, os.Stdout)
	case "checkpoints":
		err = cmdCheckpoints(args, os.Stdout)
	case "status":
		err = cmdStatus(args, os.Stdout)
	case "describe":
		err = cmdDescribe(args, os.Stdout)
	case "replay":
		err = cmdReplay(args, os.Stdout)
	case "rebuild":
		err = cmdRebuild(args, os.Stdout)
	case "adopt-kafka":
		err = cmdAdoptKafka(args, os.Stdout)
	case "teardown":
		err = cmdTeardown(args, os.Stdout)
	case "backfill":
		err = cmdBackfill(args, os.Stdout)
	case "incidents":
		err = cmdIncidents(args, os.Stdout)
	case "serve":
		err = cmdServe(args)
	case "resume":
		err = cmdResume(args, os.Stdout)
	case "broker":
		err = cmdBroker(args)
	case "vacuum":
		err = cmdVacuum(args, os.Stdout)
	case "lineage":
		err = cmdLineage(args, os.Stdout)
	case "verify":
		err = cmdVerify(args, os.Stdout)
	case "version", "--version", "-v":
		fmt.Println("inlet", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "inlet: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "inlet:", err)
		os.Exit(1)
	}
}

func loadConfig(fs *flag.FlagSet, args []string) (*config.Config, error) {
	file := fs.String("c", "", "pipeline config file (YAML)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *file == "" {
		return nil, errors.New("-c FILE is required")
	}
	c, err := config.Load(*file)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config:\n%s", c.Redact(err.Error()))
	}
	return c, nil
}

func cmdValidate(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	connect := fs.Bool("connect", false, "also connect to every source and sink and check them (as inlet check)")
	asJSON := fs.Bool("json", false, "with --connect: the report as JSON")
	c, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: ok (pipeline %s, %d sources, %d tables)\n", c.File(), c.Pipeline, len(c.Sources), len(runner.Tables(c)))
	if !*connect {
		return nil
	}
	fmt.Fprintln(out)
	return runCheck(c, *asJSON, out)
}

func cmdCheck(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "the report as JSON")
	c, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	return runCheck(c, *asJSON, out)
}

func runCheck(c *config.Config, asJSON bool, out io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := check.Run(ctx, c, check.Options{})
	write := r.WriteText
	if asJSON {
		write = r.WriteJSON
	}
	if err := write(out); err != nil {
		return err
	}
	if r.Failed() {
		return fmt.Errorf("%d checks failed", r.Count(check.Fail))
	}
	return nil
}

func cmdRun(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	only := fs.String("only", "", "run only sources or only the engine")
	source := fs.String("source", "", "with --only sources: run only this source")
	httpAddr := fs.String("http", "", "serve the status page, /metrics, /healthz and /readyz on this address: a bare port (:9464) listens on 127.0.0.1, 0.0.0.0:9464 on all interfaces")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	c, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	switch runner.Only(*only) {
	case runner.All, runner.Sources, runner.Engine:
	default:
		return fmt.Errorf("--only %q: use sources or engine", *only)
	}
	log := newLogger(c, lv)
	// Batches bound what is live; let the heap grow between collections
	// rather than collecting often. GOGC and GOMEMLIMIT still override.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// With an external broker the process holds only bounded batches:
		// keep it under 256 MiB (the snapshot benchmark's peak RSS is then
		// under 300 MB, for 10–15% more CPU than at 400 MiB:
		// docs/benchmarks.md). The embedded broker keeps its whole log
		// in this heap (kfake is in-memory, persisted to disk), so there
		// the limit is only a backstop.
		limit := int64(2 << 30)
		if c.ExternalKafka() {
			limit = 256 << 20
		}
		debug.SetMemoryLimit(limit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if path := os.Getenv("INLET_CPUPROFILE"); path != "" { // for benchmarks
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if path := os.Getenv("INLET_MEMPROFILE"); path != "" { // for benchmarks: live heap at exit
		defer func() {
			if f, err := os.Create(path); err == nil {
				pprof.WriteHeapProfile(f)
				f.Close()
			}
		}()
	}
	log.Info("inlet starting", "version", version, "pipeline", c.Pipeline, "state_dir", c.StateDir)
	return redactErr(c, runner.Run(ctx, c, runner.Only(*only), *source, *httpAddr, log))
}

// redactErr hides the config's secrets in err's message.
func redactErr(c *config.Config, err error) error {
	if err == nil {
		return nil
	}
	return errors.New(c.Redact(err.Error()))
}

// redacted runs fn writing to a buffer, then writes it to out with the
// config's secrets hidden.
func redacted(c *config.Config, out io.Writer, fn func(io.Writer) error) error {
	var b strings.Builder
	err := fn(&b)
	io.WriteString(out, c.Redact(b.String()))
	return redactErr(c, err)
}

func cmdCheckpoints(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("checkpoints", flag.ContinueOnError)
	sink := fs.String("sink", "", "only this sink (lake or clickhouse)")
	asJSON := fs.Bool("json", false, "one JSON object per batch, as persisted")
	c, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	store, err := runner.OpenStore(context.Background(), c)
	if err != nil {
		return err
	}
	defer store.Close()
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if !*asJSON {
		fmt.Fprintln(tw, "SINK\tID\tTIME\tROWS\tOFFSETS (next)")
	}
	for _, s := range runner.SinkNames(c) {
		if *sink != "" && *sink != s {
			continue
		}
		hist, err := store.History(context.Background(), s)
		if err != nil {
			return err
		}
		for _, b := range hist {
			if *asJSON {
				line, err := checkpoint.Encode(b)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%s\n", line)
				continue
			}
			var rows int64
			for _, n := range b.Rows {
				rows += n
			}
			offs := ""
			for _, o := range b.Offsets {
				offs += fmt.Sprintf("%s/%d=%d ", o.Topic, o.Partition, o.Next)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", s, b.ID, b.Time.Format(time.RFC3339), rows, offs)
		}
	}
	return tw.Flush()
}

func cmdStatus(args []string, out io.Writer) error {
	c, err := loadConfig(flag.NewFlagSet("status", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	return redacted(c, out, func(w io.Writer) error { return runner.Status(context.Background(), c, w) })
}

func cmdDescribe(args []string, out io.Writer) error {
	c, err := loadConfig(flag.NewFlagSet("describe", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	return redacted(c, out, func(w io.Writer) error { return runner.Describe(context.Background(), c, w) })
}

// newLogger logs to stderr from level lv, incidents also to the
// pipeline's journal.
func newLogger(c *config.Config, lv slog.Level) *slog.Logger {
	return slog.New(c.RedactHandler(incident.NewHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}), incident.Path(c.StateDir))))
}

func cmdIncidents(args []string, out io.Writer) error {
	if len(args) > 0 && args[0] == "report" {
		return cmdIncidentReport(args[1:], out)
	}
	if len(args) > 0 && args[0] == "resolve" {
		return cmdIncidentResolve(args[1:], out)
	}
	fs := flag.NewFlagSet("incidents", flag.ContinueOnError)
	since := fs.Duration("since", 0, "only incidents this recent (e.g. 24h); all by default")
	asJSON := fs.Bool("json", false, "one JSON object per line, as journaled")
	c, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	var from time.Time
	if *since > 0 {
		from = time.Now().Add(-*since)
	}
	return runner.Incidents(c, from, *asJSON, out)
}

func cmdBackfill(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	table := fs.String("table", "", "table to re-read, schema.table")
	where := fs.String("where", "", "optional SQL condition on the table's columns")
	c, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	if *table == "" {
		return errors.New("backfill needs --table schema.table")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runner.Backfill(ctx, c, *table, *where, out)
}

func cmdReplay(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	sink := fs.String("sink", "", "lake, clickhouse or all")
	from := fs.String("from", "", "checkpoint id or RFC 3339 time")
	c, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	if *sink == "" || *from == "" {
		return errors.New("replay needs --sink and --from (see inlet checkpoints)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runner.Replay(ctx, c, *sink, *from, newLogger(c, slog.LevelInfo), out)
}

func cmdRebuild(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("rebuild", flag.ContinueOnError)
	sink := fs.String("sink", "clickhouse", "the sink to rebuild (clickhouse)")
	fromLake := fs.Bool("from-lake", false, "rebuild from the lake")
	c, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	if *sink != "clickhouse" || !*fromLake {
		return errors.New("rebuild supports --sink clickhouse --from-lake")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runner.Rebuild(ctx, c, newLogger(c, slog.LevelInfo), out)
}

func cmdAdoptKafka(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("adopt-kafka", flag.ContinueOnError)
	yes := fs.Bool("yes", false, "confirm: the sinks' positions on the Kafka they consumed are given up")
	c, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	if !*yes {
		return errors.New("adopt-kafka makes every sink consume the change topics from the start of what this Kafka holds, giving up their positions on the Kafka they consumed (which inlet run found gone; docs/failures.md, \"Kafka lost its data\"); run it again with --yes")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runner.AdoptKafka(ctx, c, newLogger(c, slog.LevelInfo), out)
}

func cmdTeardown(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("teardown", flag.ContinueOnError)
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	c, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	return runner.Teardown(context.Background(), c, *yes, os.Stdin, out)
}

// cmdBroker runs the embedded broker (kfake, data dir, fsynced writes) on
// its own until SIGINT or SIGTERM, for pipelines that share one broker.
func cmdBroker(args []string) error {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	dir := fs.String("data-dir", "", "where the broker keeps its data (required)")
	listen := fs.String("listen", "127.0.0.1:9092", "address to listen on, host:port")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("broker needs --data-dir DIR")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := kafka.StartBroker(*dir, *listen)
	if err != nil {
		return err
	}
	for _, r := range b.Repaired {
		log.Warn("broker: repaired the log a killed process left half written", "segment", r)
	}
	log.Info("broker started", "addr", b.Addrs(), "data_dir", *dir, "version", version)
	<-ctx.Done()
	b.Close()
	log.Info("broker stopped", "data_dir", *dir)
	return nil
}
