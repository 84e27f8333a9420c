package kafka

import (
	"fmt"
	"net"

	"github.com/twmb/franz-go/pkg/kfake"
)

// StartBroker starts the embedded broker as StartEmbedded does (data
// under dir, every write fsynced) but listening on addr (host:port), for
// `inlet broker`: a broker in its own process that several Inlet
// processes, or tests, share and that can stop and start on its own.
func StartBroker(dir, addr string) (*Embedded, error) {
	e, err := startKfake(dir, 0, kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, addr) }))
	if err != nil {
		return nil, fmt.Errorf("start broker on %s with data in %s: %w", addr, dir, err)
	}
	return e, nil
}
