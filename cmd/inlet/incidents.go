package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/inlet-dev/inlet/internal/incident"
)

// idAndFlags splits "ID -c FILE" or "-c FILE ID" into the id and the
// flag arguments.
func idAndFlags(args []string) (string, []string) {
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		return args[0], args[1:]
	}
	if len(args) > 0 {
		last := args[len(args)-1]
		if len(args) >= 3 && last[0] != '-' {
			return last, args[:len(args)-1]
		}
	}
	return "", args
}

// cmdIncidentReport writes the post-mortem of one incident in Markdown.
func cmdIncidentReport(args []string, out io.Writer) error {
	id, rest := idAndFlags(args)
	fs := flag.NewFlagSet("incidents report", flag.ContinueOnError)
	c, err := loadConfig(fs, rest)
	if err != nil {
		return err
	}
	if id == "" {
		return errors.New("usage: inlet incidents report ID -c FILE (inlet incidents lists the ids)")
	}
	in, err := incident.Find(incident.Path(c.StateDir), id)
	if err != nil {
		return err
	}
	return incident.Report(out, in, c.Pipeline, time.Now())
}

// cmdIncidentResolve records that an operator resolved an incident.
func cmdIncidentResolve(args []string, out io.Writer) error {
	id, rest := idAndFlags(args)
	fs := flag.NewFlagSet("incidents resolve", flag.ContinueOnError)
	note := fs.String("note", "", "what was done (goes into the post-mortem)")
	c, err := loadConfig(fs, rest)
	if err != nil {
		return err
	}
	if id == "" {
		return errors.New("usage: inlet incidents resolve ID -c FILE [--note TEXT]")
	}
	in, err := incident.Find(incident.Path(c.StateDir), id)
	if err != nil {
		return err
	}
	if !in.Open() {
		return fmt.Errorf("incident %s is already closed (%s)", in.ID, in.Closed.UTC().Format(time.RFC3339))
	}
	log := slog.New(incident.NewHandler(slog.NewTextHandler(os.Stderr, nil), incident.Path(c.StateDir)))
	log.Info(incident.MsgResolvedByOperator, "incident_id", in.ID, "note", *note)
	fmt.Fprintf(out, "incident %s resolved\n", in.ID)
	return nil
}
