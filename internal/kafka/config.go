package kafka

import (
	"fmt"
	"net"

	"github.com/inlet-dev/inlet/connectors/conf"
)

// Config is the kafka section of a pipeline file: it points at an
// external cluster. Without brokers (or without the
// section) Inlet embeds a broker under state_dir.
type Config struct {
	Brokers []string `yaml:"brokers"`
	// Retention bounds the embedded broker: records every sink has
	// committed and older than this are deleted (default 7d). With
	// external brokers retention is the cluster's; Inlet only warns when a
	// sink needs records that are gone.
	Retention conf.Duration `yaml:"retention"`
	// SegmentMB is the embedded broker's log segment size: deleted records
	// leave the disk a segment at a time (default 16).
	SegmentMB  int   `yaml:"segment_mb"`
	Partitions int32 `yaml:"partitions"` // partitions of each new change topic; default 1
	// Compression of produced record batches: none, snappy (default),
	// lz4 or zstd.
	Compression string `yaml:"compression"`
	// Envelope is the format sources write change records in: json
	// (what other consumers of the topics read; the default with brokers)
	// or binary (docs/envelope.md; the default with the embedded broker,
	// whose topics only Inlet reads). Inlet reads both, record by record.
	Envelope string `yaml:"envelope"`
	// TLS encrypts connections to the brokers (and authenticates the
	// client with a certificate when cert_file and key_file are set).
	TLS *conf.TLS `yaml:"tls"`
	// SASL authenticates the client: PLAIN, SCRAM-SHA-256 or
	// SCRAM-SHA-512. Use it with TLS: PLAIN sends the password as is.
	SASL *SASL `yaml:"sasl"`
}

// Defaults fills what the file left out.
func (k *Config) Defaults() {
	if k.Partitions == 0 {
		k.Partitions = 1
	}
	if k.Compression == "" {
		k.Compression = "snappy"
	}
	if k.Envelope == "" {
		k.Envelope = EnvelopeJSON
		if len(k.Brokers) == 0 {
			k.Envelope = EnvelopeBinary
		}
	}
}

// Envelope formats (kafka.envelope).
const (
	EnvelopeJSON   = "json"
	EnvelopeBinary = "binary"
)

// BinaryEnvelope reports whether sources write the binary envelope (true
// for a nil Config: the embedded broker with defaults).
func (k *Config) BinaryEnvelope() bool { return k == nil || k.Envelope == EnvelopeBinary }

// Validate reports the section's problems ("kafka..." paths).
func (k *Config) Validate(v conf.Checker) {
	bad := v.Bad
	if k.Retention < 0 || k.SegmentMB < 0 {
		bad("kafka.retention", "retention and segment_mb must be positive")
	}
	if len(k.Brokers) > 0 && (k.Retention > 0 || k.SegmentMB > 0) {
		bad("kafka.retention", "retention and segment_mb bound the embedded broker; with brokers, set retention on the cluster's topics (retention.ms) and remove them here")
	}
	for i, b := range k.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			bad(fmt.Sprintf("kafka.brokers[%d]", i), "%q is not host:port", b)
		}
	}
	if k.Partitions < 1 {
		bad("kafka.partitions", "must be at least 1")
	}
	switch k.Compression {
	case "none", "snappy", "lz4", "zstd":
	default:
		bad("kafka.compression", "%q: use none, snappy, lz4 or zstd", k.Compression)
	}
	switch k.Envelope {
	case EnvelopeJSON, EnvelopeBinary:
	default:
		bad("kafka.envelope", "%q: use json (readable by any consumer) or binary (smaller and faster for Inlet; docs/envelope.md)", k.Envelope)
	}
	k.TLS.Validate("kafka.tls", v)
	k.SASL.validate("kafka.sasl", v, k.TLS != nil)
}

// SASL is Kafka's SASL authentication.
type SASL struct {
	Mechanism string `yaml:"mechanism"` // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	Username  string `yaml:"username"`
	Password  string `yaml:"password"` // from the environment: "${KAFKA_PASSWORD}"
}

// SASL mechanisms.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// validate checks kafka.sasl.
func (s *SASL) validate(p string, v conf.Checker, tlsOn bool) {
	if s == nil {
		return
	}
	bad := v.Bad
	switch s.Mechanism {
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
	case "":
		bad(p+".mechanism", "missing; use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	default:
		bad(p+".mechanism", "%q: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.Mechanism)
	}
	if s.Username == "" {
		bad(p+".username", "missing; write the SASL user, e.g. username: inlet")
	}
	switch {
	case s.Password == "" && !v.FromEnv(p+".password"):
		bad(p+".password", "missing; write password: \"${KAFKA_PASSWORD}\" and export KAFKA_PASSWORD")
	case !v.FromEnv(p + ".password"):
		bad(p+".password", "written in the file; secrets come from the environment only: write password: \"${KAFKA_PASSWORD}\" and export KAFKA_PASSWORD")
	}
	if s.Mechanism == SASLPlain && !tlsOn {
		bad(p+".mechanism", "PLAIN sends the password in clear; add a kafka.tls section (tls: {} for the system's authorities)")
	}
}
