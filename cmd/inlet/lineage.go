package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/internal/lineage"
)

// files is a repeatable -c flag.
type files []string

func (f *files) String() string     { return strings.Join(*f, ",") }
func (f *files) Set(s string) error { *f = append(*f, s); return nil }

func cmdLineage(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("lineage", flag.ContinueOnError)
	var cfgs files
	fs.Var(&cfgs, "c", "pipeline config file (repeat for several pipelines)")
	format := fs.String("o", "text", "output: "+strings.Join(lineage.Formats, ", "))
	down := fs.String("downstream", "", "list what depends on this node (an id, or a table name such as public.orders)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(cfgs) == 0 {
		return errors.New("-c FILE is required (repeat -c for several pipelines)")
	}
	var loaded []*config.Config
	for _, f := range cfgs {
		c, err := config.Load(f)
		if err != nil {
			return err
		}
		if err := c.Validate(); err != nil {
			return fmt.Errorf("invalid config:\n%w", err)
		}
		loaded = append(loaded, c)
	}
	g, err := lineage.Build(loaded...)
	if err != nil {
		return err
	}
	if *down == "" {
		return g.Write(out, *format)
	}
	ids := g.Resolve(*down)
	if len(ids) == 0 {
		return fmt.Errorf("--downstream %q: no such node; give a node id (see inlet lineage -o json) or a table name", *down)
	}
	return g.Sub(ids).Write(out, *format)
}
