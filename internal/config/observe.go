package config

import (
	"fmt"
	"net/url"
	"time"

	"github.com/inlet-dev/inlet/connectors/conf"
)

// Incidents tunes the incident record (state_dir/incidents.jsonl).
type Incidents struct {
	// EscalateAfter: an incident still open this long is escalated (logged
	// at error once, and listed for metrics and the status page).
	EscalateAfter conf.Duration `yaml:"escalate_after"` // default 15m
}

// Lineage configures lineage events.
type Lineage struct {
	// OpenLineage, if set, emits an OpenLineage RunEvent for each committed
	// batch window (START, then COMPLETE or FAIL).
	OpenLineage *OpenLineage `yaml:"openlineage"`
}

// OpenLineage is where run events go: an HTTP endpoint, a file, or both.
type OpenLineage struct {
	// URL receives each event as an HTTP POST of its JSON (e.g. Marquez:
	// http://marquez:5000/api/v1/lineage).
	URL string `yaml:"url"`
	// File gets each event appended as one JSON line.
	File string `yaml:"file"`
	// Namespace is the job namespace; default inlet.
	Namespace string `yaml:"namespace"`
}

func (c *Config) applyObserveDefaults() {
	if c.Incidents.EscalateAfter == 0 {
		c.Incidents.EscalateAfter = conf.Duration(15 * time.Minute)
	}
	if ol := c.Lineage.OpenLineage; ol != nil && ol.Namespace == "" {
		ol.Namespace = "inlet"
	}
}

func (c *Config) validateObserve() []error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s: %s", c.file, c.Line(path), path, fmt.Sprintf(format, args...)))
	}
	if c.Incidents.EscalateAfter < conf.Duration(time.Minute) {
		bad("incidents.escalate_after", "must be at least 1m")
	}
	if ol := c.Lineage.OpenLineage; ol != nil {
		if ol.URL == "" && ol.File == "" {
			bad("lineage.openlineage", "set url (an OpenLineage HTTP endpoint) or file (JSON lines), or both")
		}
		if ol.URL != "" {
			if u, err := url.Parse(ol.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("lineage.openlineage.url", "%q is not an http(s) URL; write e.g. url: \"http://marquez:5000/api/v1/lineage\"", c.Redact(ol.URL))
			}
		}
	}
	return errs
}
