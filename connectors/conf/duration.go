package conf

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as "500ms", "2s", "5m", or in whole
// days as "7d", "400d".
type Duration time.Duration

// ParseDuration parses a Go duration ("90s", "36h") or a whole number of
// days ("7d", "400d").
func ParseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// UnmarshalYAML parses a Go duration string, or days ("7d").
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (write e.g. 500ms, 2s, 5m, 36h, 7d)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}
