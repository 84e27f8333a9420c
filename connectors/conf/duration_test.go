package conf

import (
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDurationDays(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"400d", 400 * 24 * time.Hour, false}, {"7d", 7 * 24 * time.Hour, false}, {"90s", 90 * time.Second, false},
		{"2h30m", 150 * time.Minute, false}, {"d", 0, true}, {"1.5d", 0, true}, {"-3d", 0, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var l struct {
				D Duration `yaml:"d"`
			}
			err := yaml.Unmarshal([]byte("d: "+tc.in), &l)
			if (err != nil) != tc.bad || !tc.bad && time.Duration(l.D) != tc.want {
				t.Fatalf("%q: %v, %v; want %v (error: %v)", tc.in, time.Duration(l.D), err, tc.want, tc.bad)
			}
		})
	}
}

func TestParseDurationDays(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "400d": 400 * 24 * time.Hour, "90s": 90 * time.Second, "36h": 36 * time.Hour} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"d", "x7d", "-1d", "7"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) took it", bad)
		}
	}
}
