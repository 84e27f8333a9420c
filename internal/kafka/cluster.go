package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/inlet-dev/inlet/internal/retry"
)

// Cluster is how Inlet reaches one Kafka cluster: the seed brokers and the
// security options (TLS, SASL) every connection needs. It is the one place
// Kafka clients are built: Client for a role's own long-lived client (a
// source's transactional producer, the engine's consumer) or a reader
// bound to one partition, Admin for the shared long-lived client that
// creates topics and looks up metadata and offsets.
//
// A Cluster is safe for concurrent use. Close closes the admin client;
// clients from Client are their caller's to close.
type Cluster struct {
	brokers []string
	opts    []kgo.Opt // seed brokers and security
	sasl    bool
	tls     bool

	hook *securityHook

	mu     sync.Mutex
	admin  *kgo.Client
	closed bool
}

// securityHook notes the connection failures a client hides behind a
// bare EOF or timeout: a SASLAuthenticate whose answer never came (a
// broker may drop the connection on bad credentials instead of
// answering SASL_AUTHENTICATION_FAILED; kfake does) and the last dial
// error (a TLS handshake that failed).
type securityHook struct {
	mu         sync.Mutex
	saslFailed []time.Time // failed SASLAuthenticate reads, the last few
	lastDial   atomic.Pointer[error]
}

var (
	_ kgo.HookBrokerRead    = (*securityHook)(nil)
	_ kgo.HookBrokerConnect = (*securityHook)(nil)
)

// OnBrokerRead implements kgo.HookBrokerRead.
func (h *securityHook) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	const saslAuthenticate = 36
	if key == saslAuthenticate && err != nil {
		h.mu.Lock()
		h.saslFailed = append(h.saslFailed, time.Now())
		if len(h.saslFailed) > 3 {
			h.saslFailed = h.saslFailed[1:]
		}
		h.mu.Unlock()
	}
}

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (h *securityHook) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		h.lastDial.Store(&err)
	}
}

// saslFailures is how many SASLAuthenticate reads failed in the last
// minute (at most 3).
func (h *securityHook) saslFailures() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, t := range h.saslFailed {
		if time.Since(t) < time.Minute {
			n++
		}
	}
	return n
}

// Security is how a Cluster's connections are secured; the zero value is
// plain TCP without authentication.
type Security struct {
	TLS  *tls.Config    // nil: plain TCP
	SASL sasl.Mechanism // nil: no authentication
}

// NewCluster returns a Cluster reaching brokers with sec.
func NewCluster(brokers []string, sec Security) *Cluster {
	c := &Cluster{brokers: append([]string(nil), brokers...), hook: &securityHook{}}
	c.opts = []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.WithHooks(c.hook)}
	if sec.TLS != nil {
		c.tls = true
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: sec.TLS}
		c.opts = append(c.opts, kgo.Dialer(d.DialContext))
	}
	if sec.SASL != nil {
		c.sasl = true
		c.opts = append(c.opts, kgo.SASL(sec.SASL))
	}
	return c
}

// SecurityFrom builds the Security of a kafka config section (nil: none).
// Errors name the key to fix.
func SecurityFrom(k *Config) (Security, error) {
	var sec Security
	if k == nil {
		return sec, nil
	}
	t, err := k.TLS.Config()
	if err != nil {
		return sec, retry.MarkNeedsUser(fmt.Errorf("kafka.tls: %w", err), "point kafka.tls at readable PEM files")
	}
	sec.TLS = t
	if s := k.SASL; s != nil {
		switch s.Mechanism {
		case SASLPlain:
			sec.SASL = plain.Auth{User: s.Username, Pass: s.Password}.AsMechanism()
		case SASLScramSHA256:
			sec.SASL = scram.Auth{User: s.Username, Pass: s.Password}.AsSha256Mechanism()
		case SASLScramSHA512:
			sec.SASL = scram.Auth{User: s.Username, Pass: s.Password}.AsSha512Mechanism()
		default:
			return sec, fmt.Errorf("kafka.sasl.mechanism %q: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.Mechanism)
		}
	}
	return sec, nil
}

// Brokers are the seed brokers.
func (c *Cluster) Brokers() []string { return c.brokers }

// Client returns a new client of the cluster with the extra options (a
// role's own: transactional id, consumed partitions, ...). The caller
// closes it.
func (c *Cluster) Client(extra ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), c.opts...), extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return cl, nil
}

// Admin returns the cluster's shared admin client, made on first use and
// closed by Close.
func (c *Cluster) Admin() (*kadm.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("kafka: cluster closed")
	}
	if c.admin == nil {
		cl, err := c.Client()
		if err != nil {
			return nil, err
		}
		c.admin = cl
	}
	return kadm.NewClient(c.admin), nil
}

// Close closes the admin client.
func (c *Cluster) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.admin != nil {
		c.admin.Close()
		c.admin = nil
	}
}

// Check connects and authenticates (a metadata request), so a wrong
// password or an untrusted certificate stops a process at start with the
// setting to fix rather than being retried.
func (c *Cluster) Check(ctx context.Context) error {
	adm, err := c.Admin()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// A SASL exchange cut short once may be the network; three times in
	// a row is the credentials.
	for attempt := 1; ; attempt++ {
		_, err := adm.BrokerMetadata(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			if last := c.hook.lastDial.Load(); last != nil {
				err = fmt.Errorf("%w (last connection error: %v)", err, *last)
			}
		}
		err = c.Classify(fmt.Errorf("kafka %v: %w", c.brokers, err))
		if retry.Classify(err) == retry.NeedsUser || c.hook.saslFailures() == 0 || attempt == 3 {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Classify marks errors only a person can fix (bad credentials, an
// untrusted or mismatched certificate, TLS against a plain listener) as
// retry.NeedsUser, naming the setting; other errors are returned as is.
func (c *Cluster) Classify(err error) error {
	if err == nil || retry.Classify(err) != retry.Retriable {
		return err
	}
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		recordHdr tls.RecordHeaderError
	)
	// Three SASL exchanges cut short within a minute: the broker is
	// dropping us for our credentials, not for the network.
	saslCut := c.sasl && c.hook.saslFailures() >= 3 &&
		(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET))
	switch {
	case saslCut:
		err = fmt.Errorf("SASL authentication failed (the broker closed the connection during it): %w", err)
		fallthrough
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return retry.MarkNeedsUser(err, "check kafka.sasl.username and kafka.sasl.password (the environment variable it names) against the user the brokers know, and kafka.sasl.mechanism")
	case errors.Is(err, kerr.UnsupportedSaslMechanism), errors.Is(err, kerr.IllegalSaslState):
		return retry.MarkNeedsUser(err, "set kafka.sasl.mechanism to one the brokers enable (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
	case errors.Is(err, kerr.SecurityDisabled):
		return retry.MarkNeedsUser(err, "the brokers have no SASL listener here; remove kafka.sasl or point kafka.brokers at the SASL listener")
	case errors.As(err, &unknownCA), errors.As(err, &invalid), errors.As(err, &verify) && !errors.As(err, &hostname):
		return retry.MarkNeedsUser(err, "set kafka.tls.ca_file to the PEM of the authority that signed the brokers' certificates")
	case errors.As(err, &hostname):
		return retry.MarkNeedsUser(err, "list the brokers by a name their certificate holds, or set kafka.tls.server_name to it")
	case errors.As(err, &recordHdr):
		return retry.MarkNeedsUser(err, "the brokers do not speak TLS on this port: point kafka.brokers at the TLS listener, or remove kafka.tls")
	case c.sasl && errors.Is(err, kerr.ClusterAuthorizationFailed):
		return retry.MarkNeedsUser(err, "grant the kafka.sasl.username user the ACLs it needs (cluster describe, topics, transactional ids)")
	}
	return err
}
