package kafka

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kfake"
)

// StartBroker starts the embedded broker as StartEmbedded does (data
// under dir, every write fsynced) but listening on addr (host:port), for
// `inlet broker`: a broker in its own process that several Inlet
// processes, or tests, share and that can stop and start on its own.
func StartBroker(dir, addr string) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	repaired, err := repairLog(dir)
	if err != nil {
		return nil, err
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, addr) }),
		kfake.DataDir(filepath.Clean(dir)),
		kfake.SyncWrites(),
		kfake.BrokerConfigs(brokerConfigs(0)),
	)
	if err != nil {
		return nil, fmt.Errorf("start broker on %s with data in %s: %w", addr, dir, err)
	}
	fetchWholePartitions(c)
	return &Embedded{c: c, Repaired: repaired}, nil
}
