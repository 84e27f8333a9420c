package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/inlet-dev/inlet/internal/config"
)

// printGroup shows, for engines in a consumer group, which engine (host and
// pid, from its client id) owns which partitions: the group as the broker
// describes it now.
func printGroup(ctx context.Context, w io.Writer, c *config.Config) {
	group := c.EngineGroup()
	if group == "" {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "ENGINE (group %s)\tMEMBER ID\tPARTITIONS\n", group)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cl, stop, err := Kafka(cctx, c, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintf(w, "unreachable: %v\t\t\n", err)
		return
	}
	defer stop()
	adm, err := cl.Admin()
	if err != nil {
		fmt.Fprintf(w, "unreachable: %v\t\t\n", err)
		return
	}
	gs, err := adm.DescribeGroups(cctx, group)
	if err == nil {
		err = gs.Error()
	}
	if err != nil {
		fmt.Fprintf(w, "unreachable: %v\t\t\n", err)
		return
	}
	g := gs[group]
	if len(g.Members) == 0 {
		fmt.Fprintf(w, "none running (group %s)\t\t\n", strings.ToLower(g.State))
		return
	}
	for _, m := range g.Members {
		var parts []string
		if a, ok := m.Assigned.AsConsumer(); ok {
			sort.Slice(a.Topics, func(i, j int) bool { return a.Topics[i].Topic < a.Topics[j].Topic })
			for _, t := range a.Topics {
				ps := append([]int32(nil), t.Partitions...)
				sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
				for _, p := range ps {
					parts = append(parts, fmt.Sprintf("%s/%d", t.Topic, p))
				}
			}
		}
		owned := strings.Join(parts, " ")
		if owned == "" {
			owned = "none (rebalancing)"
		}
		fmt.Fprintf(w, "%s (%s)\t%s\t%d: %s\n", m.ClientID, m.ClientHost, m.MemberID, len(parts), owned)
	}
}

// refuseRunningEngines stops replay, rebuild and teardown while engines of
// the pipeline run in its consumer group: a running engine would carry the
// rewound partitions forward again (or write into what is being dropped).
// Each engine has its own state_dir, so the state dir lock cannot tell.
func refuseRunningEngines(ctx context.Context, c *config.Config, cmd string, log *slog.Logger) error {
	group := c.EngineGroup()
	if group == "" {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cl, stop, err := Kafka(cctx, c, log)
	if err != nil {
		return fmt.Errorf("%s: cannot check that no engine of consumer group %s runs: %w", cmd, group, err)
	}
	defer stop()
	adm, err := cl.Admin()
	if err != nil {
		return fmt.Errorf("%s: cannot check that no engine of consumer group %s runs: %w", cmd, group, err)
	}
	gs, err := adm.DescribeGroups(cctx, group)
	if err == nil {
		err = gs.Error()
	}
	if err != nil {
		return fmt.Errorf("%s: cannot check that no engine of consumer group %s runs: %w", cmd, group, err)
	}
	members := gs[group].Members
	if len(members) == 0 {
		return nil
	}
	var who []string
	for _, m := range members {
		who = append(who, fmt.Sprintf("%s (%s)", m.ClientID, m.ClientHost))
	}
	sort.Strings(who)
	return fmt.Errorf("%s: %d engine(s) of pipeline %s still run in consumer group %s: %s; stop every `inlet run` of this pipeline first (a killed engine, or one stopped with engine.instance_id set, stays a member until its 20s session times out)",
		cmd, len(members), c.Pipeline, group, strings.Join(who, ", "))
}
