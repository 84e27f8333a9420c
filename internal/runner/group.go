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
