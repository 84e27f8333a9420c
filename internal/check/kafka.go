package check

import (
	"context"
	"fmt"
	"net"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafka checks that each configured seed broker accepts a connection and
// that the cluster answers a metadata request. Without a kafka section
// the broker is embedded: nothing to reach.
func (ck *checker) kafka(ctx context.Context) *Group {
	g := &Group{Component: "kafka"}
	k := ck.cfg.Kafka
	if k == nil {
		g.ok("brokers", "embedded broker under state_dir (no kafka section)")
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
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.DialTimeout(ck.opt.Timeout))
	if err != nil {
		g.fail("cluster", err.Error(), "")
		return g
	}
	defer cl.Close()
	cctx, cancel := ck.ctx(ctx)
	defer cancel()
	meta, err := kadm.NewClient(cl).BrokerMetadata(cctx)
	if err != nil {
		g.fail("cluster", "metadata request failed: "+err.Error(),
			"check that the addresses are Kafka listeners this client may use without TLS or SASL, and that the brokers advertise addresses reachable from here")
		return g
	}
	g.ok("cluster", fmt.Sprintf("metadata lists %s, controller %d", count(len(meta.Brokers), "broker"), meta.Controller))
	return g
}
