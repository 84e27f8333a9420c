package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Status is the verdict of one check.
type Status int

// Verdicts, from good to bad.
const (
	OK   Status = iota // works as configured (Detail may carry a note)
	Warn               // works, but something deserves a look
	Fail               // Inlet will not run (or not correctly) until fixed
	Skip               // not checked: what it needs failed (that failure is reported)
)

func (s Status) String() string {
	switch s {
	case OK:
		return "OK"
	case Warn:
		return "WARN"
	case Skip:
		return "SKIP"
	}
	return "FAIL"
}

// MarshalText writes the status as OK, WARN or FAIL.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Result is one check of one component.
type Result struct {
	Status Status `json:"status"`
	Check  string `json:"check"`         // what was checked: "wal_level", "table public.orders"
	Detail string `json:"detail"`        // what was found
	Fix    string `json:"fix,omitempty"` // what to do (WARN and FAIL)
}

// Group is the checks of one component (a source, a sink, Kafka).
type Group struct {
	Component string   `json:"component"`
	Results   []Result `json:"results"`
}

func (g *Group) add(s Status, check, detail, fix string) {
	g.Results = append(g.Results, Result{Status: s, Check: check, Detail: detail, Fix: fix})
}

func (g *Group) ok(check, detail string)        { g.add(OK, check, detail, "") }
func (g *Group) warn(check, detail, fix string) { g.add(Warn, check, detail, fix) }
func (g *Group) fail(check, detail, fix string) { g.add(Fail, check, detail, fix) }
func (g *Group) result(r Result)                { g.Results = append(g.Results, r) }
func (g *Group) skipped(check, because string)  { g.add(Skip, check, "not checked: "+because, "") }

// Report is every check of a pipeline, grouped by component in config
// order.
type Report struct {
	Pipeline string   `json:"pipeline"`
	File     string   `json:"file"`
	Groups   []*Group `json:"groups"`
}

// Count returns how many checks ended with status s.
func (r *Report) Count(s Status) int {
	n := 0
	for _, g := range r.Groups {
		for _, res := range g.Results {
			if res.Status == s {
				n++
			}
		}
	}
	return n
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool { return r.Count(Fail) > 0 }

// WriteText writes the report for a person: components in order, one line
// per check (OK, WARN, FAIL, SKIP), the fix under each problem, and a tally.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "inlet check: pipeline %s (%s)\n", r.Pipeline, r.File)
	for _, g := range r.Groups {
		width := 0
		for _, res := range g.Results {
			width = max(width, min(len(res.Check), 30))
		}
		fmt.Fprintf(&b, "\n%s\n", g.Component)
		for _, res := range g.Results {
			name := res.Check
			pad := width - len(name)
			if pad < 0 {
				pad = 0
			}
			fmt.Fprintf(&b, "  %-4s  %s%s  %s\n", res.Status, name, strings.Repeat(" ", pad), res.Detail)
			if res.Fix != "" {
				fmt.Fprintf(&b, "  %s  %s  fix: %s\n", strings.Repeat(" ", 4), strings.Repeat(" ", max(width, len(name))), res.Fix)
			}
		}
	}
	fails, warns, oks := r.Count(Fail), r.Count(Warn), r.Count(OK)
	plural := "s"
	if warns == 1 {
		plural = ""
	}
	fmt.Fprintf(&b, "\n%d failed, %d warning%s, %d ok", fails, warns, plural, oks)
	if n := r.Count(Skip); n > 0 {
		fmt.Fprintf(&b, ", %d not checked", n)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// count renders n with word, plural when n != 1 ("1 table", "2 tables").
func count(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
