package check

import (
	"context"
	"fmt"
	"net"

	kafkapkg "github.com/inlet-dev/inlet/internal/kafka"
)

// kafka checks that each configured seed broker accepts a connection and
// that the cluster answers a metadata request. Without a kafka section
// the broker is embedded: nothing to reach.
func (ck *checker) kafka(ctx context.Context) *Group {
	g := &Group{Component: "kafka"}
	k := ck.cfg.Kafka
	if !ck.cfg.ExternalKafka() {
		g.ok("brokers", "embedded broker under state_dir (no kafka.brokers)")
		return g
	}
	reachable := 0
	for i, b := range k.Brokers {
		d := net.Dialer{Timeout: ck.opt.Timeout}
		conn, err := d.DialContext(ctx, "tcp", b)
		if err != nil {
			g.fail("broker "+b, "does not accept connections: "+err.Error(),
				fmt.Sprintf("check %s and that the broker runs and listens there", ck.at(fmt.Sprintf("kafka.brokers[%d]", i))))
			continue
		}
		conn.Close()
		g.ok("broker "+b, "accepts connections")
		reachable++
	}
	if reachable == 0 {
		g.skipped("cluster", "no broker reachable")
		return g
	}
	// With the pipeline's TLS and SASL settings: a wrong password or an
	// untrusted certificate shows here, naming the setting.
	sec, err := kafkapkg.SecurityFrom(k)
	if err != nil {
		g.fail("cluster", err.Error(), "fix kafka.tls / kafka.sasl (see docs/security.md)")
		return g
	}
	cluster := kafkapkg.NewCluster(k.Brokers, sec)
	defer cluster.Close()
	cctx, cancel := ck.ctx(ctx)
	defer cancel()
	if err := cluster.Check(cctx); err != nil {
		g.fail("cluster", err.Error(), "check the brokers' listeners, kafka.tls and kafka.sasl (see docs/security.md)")
		return g
	}
	adm, err := cluster.Admin()
	if err != nil {
		g.fail("cluster", err.Error(), "")
		return g
	}
	meta, err := adm.BrokerMetadata(cctx)
	if err != nil {
		g.fail("cluster", "metadata request failed: "+err.Error(),
			"check that the brokers advertise addresses reachable from here")
		return g
	}
	g.ok("cluster", fmt.Sprintf("metadata lists %s, controller %d", count(len(meta.Brokers), "broker"), meta.Controller))
	return g
}
