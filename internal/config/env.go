package config

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// envUse is one ${NAME} reference the config's text had.
type envUse struct {
	line  int // 1-based line of the file
	name  string
	value string
}

var (
	envRefRe = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	// wholeValueRe matches a line whose value is exactly one reference,
	// optionally quoted: "key: ${X}", "- ${X}", "key: \"${X}\" # note".
	wholeValueRe = regexp.MustCompile(`^(\s*(?:-\s+)?(?:(?:"[^"]*"|'[^']*'|[^\s#'"\-][^#]*?)\s*:\s+)?)(["']?)\$\{([A-Za-z_][A-Za-z0-9_]*)\}(["']?)(\s*(?:#.*)?)$`)
	// plainRe: values left unquoted, so they still decode into numbers
	// and booleans.
	plainRe = regexp.MustCompile(`^(-?[0-9]+(\.[0-9]+)?|true|false)$`)
)

// expandEnv replaces every ${NAME} in raw with the environment variable
// NAME, line by line so line numbers stay those of the file. A reference
// that is a whole value is replaced by a YAML double-quoted string (unless
// the value is a plain number or boolean), so values holding YAML syntax
// ("#", ": ", quotes; common in passwords) arrive as written. A reference
// inside a longer value is replaced as text. Comment lines are left as
// they are.
func expandEnv(raw []byte) (out []byte, uses []envUse, missing []string) {
	lines := bytes.SplitAfter(raw, []byte("\n"))
	var b bytes.Buffer
	for i, ln := range lines {
		text := string(ln)
		eol := ""
		for _, e := range []string{"\r\n", "\n"} {
			if strings.HasSuffix(text, e) {
				text, eol = strings.TrimSuffix(text, e), e
				break
			}
		}
		if strings.HasPrefix(strings.TrimSpace(text), "#") {
			// A comment line (e.g. a key left commented out) needs no
			// variable and gets none.
			b.WriteString(text + eol)
			continue
		}
		lookup := func(name string) string {
			v, ok := os.LookupEnv(name)
			if !ok && !slices.Contains(missing, name) {
				missing = append(missing, name)
			}
			uses = append(uses, envUse{line: i + 1, name: name, value: v})
			return v
		}
		if m := wholeValueRe.FindStringSubmatch(text); m != nil && m[2] == m[4] {
			v := lookup(m[3])
			if m[2] != "" || !plainRe.MatchString(v) {
				v = strconv.Quote(v) // Go's escapes are valid in YAML's double quotes
			}
			b.WriteString(m[1] + v + m[5] + eol)
			continue
		}
		b.WriteString(envRefRe.ReplaceAllStringFunc(text, func(ref string) string {
			return lookup(envRefRe.FindStringSubmatch(ref)[1])
		}) + eol)
	}
	return b.Bytes(), uses, missing
}

// publicKeys are the keys whose values are not secret even when they come
// from the environment (state_dir: ${INLET_STATE}); a value from the
// environment under any other key is treated as a secret.
var publicKeys = map[string]bool{
	"pipeline": true, "state_dir": true, "brokers": true, "partitions": true, "compression": true,
	"path": true, "addr": true, "database": true, "username": true, "name": true, "tables": true,
	"slot": true, "publication": true, "table": true, "mode": true, "interval": true, "schedule": true,
	"ca_file": true, "cert_file": true, "key_file": true, "server_name": true, "insecure_skip_verify": true,
	"mechanism": true, "batch_records": true, "batch_bytes": true, "batch_wait": true,
	"commit_interval": true, "split_after": true, "endpoint": true, "region": true, "path_style": true,
	"instance_id": true,
}

// collectSecrets records what Redact hides: values from the environment
// under keys that are not public, every password the config holds (SASL,
// ClickHouse, in Postgres connection strings), and HTTP header values.
func (c *Config) collectSecrets() {
	byLine := map[int][]string{}
	for path, l := range c.lines {
		byLine[l] = append(byLine[l], path)
	}
	for _, u := range c.envRefs {
		public := len(byLine[u.line]) > 0
		for _, path := range byLine[u.line] {
			if !publicKeys[lastKey(path)] {
				public = false
			}
		}
		if !public {
			c.addSecret(u.value)
		}
	}
	if k := c.Kafka; k != nil && k.SASL != nil {
		c.addSecret(k.SASL.Password)
	}
	if ch := c.ClickHouse; ch != nil {
		c.addSecret(ch.Password)
	}
	if c.Lake != nil && c.Lake.S3 != nil {
		c.addSecret(c.Lake.S3.SecretAccessKey)
		c.addSecret(c.Lake.S3.AccessKeyID)
	}
	dsns := []string{}
	for _, s := range c.Sources {
		if s.Postgres != nil {
			dsns = append(dsns, s.Postgres.DSN)
		}
		if s.HTTP != nil {
			for _, v := range s.HTTP.Headers {
				c.addSecret(v)
			}
		}
	}
	if p := c.Checkpoints.Postgres; p != nil {
		dsns = append(dsns, p.DSN)
	}
	for _, d := range dsns {
		if pc, err := pgx.ParseConfig(d); err == nil {
			c.addSecret(pc.Password)
		}
	}
}

func (c *Config) addSecret(v string) {
	if v != "" && !slices.Contains(c.secrets, v) {
		c.secrets = append(c.secrets, v)
	}
}

// lastKey is the last key of a path: "kafka.brokers[0]" → "brokers".
func lastKey(path string) string {
	for strings.HasSuffix(path, "]") {
		path = path[:strings.LastIndexByte(path, '[')]
	}
	return path[strings.LastIndexByte(path, '.')+1:]
}

// fromEnv reports whether the value at the key path was written as a
// ${NAME} reference.
func (c *Config) fromEnv(path string) bool {
	l, ok := c.lines[path]
	if !ok {
		return false
	}
	for _, u := range c.envRefs {
		if u.line == l {
			return true
		}
	}
	return false
}
