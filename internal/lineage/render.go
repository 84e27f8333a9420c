package lineage

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// FormatVersion is the version of the JSON rendering.
const FormatVersion = 1

// Formats Write accepts.
var Formats = []string{"text", "dot", "mermaid", "json"}

// Write renders g as text, dot (Graphviz), mermaid or json.
func (g *Graph) Write(w io.Writer, format string) error {
	switch format {
	case "text", "":
		return g.writeText(w)
	case "dot":
		return g.writeDOT(w)
	case "mermaid":
		return g.writeMermaid(w)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Version int    `json:"version"`
			Nodes   []Node `json:"nodes"`
			Edges   []Edge `json:"edges"`
		}{FormatVersion, g.Nodes, g.Edges})
	}
	return fmt.Errorf("format %q: use %s", format, strings.Join(Formats, ", "))
}

var kindLabel = map[Kind]string{
	PostgresTable: "postgres table", HTTPStream: "http stream", KafkaTopic: "kafka topic",
	LakeTable: "lake table", CHMirror: "clickhouse mirror", CHView: "clickhouse view", CHSummary: "clickhouse summary",
}

// roots are the nodes nothing flows into.
func (g *Graph) roots() []string {
	in := map[string]bool{}
	for _, e := range g.Edges {
		in[e.To] = true
	}
	var out []string
	for _, n := range g.Nodes {
		if !in[n.ID] {
			out = append(out, n.ID)
		}
	}
	return out
}

// writeText prints each source's tree of dependants; a node reached from
// two sources is printed under both.
func (g *Graph) writeText(w io.Writer) error {
	var b strings.Builder
	var walk func(id, indent string, last bool, depth int)
	walk = func(id, indent string, last bool, depth int) {
		n, _ := g.Node(id)
		line := fmt.Sprintf("%s  [%s; %s]", n.ID, kindLabel[n.Kind], strings.Join(n.Pipelines, ", "))
		child := indent
		if depth == 0 {
			b.WriteString(line + "\n")
		} else {
			branch, next := "├── ", "│   "
			if last {
				branch, next = "└── ", "    "
			}
			b.WriteString(indent + branch + line + "\n")
			child = indent + next
		}
		kids := g.out[id]
		for i, k := range kids {
			walk(k, child, i == len(kids)-1, depth+1)
		}
	}
	for i, r := range g.roots() {
		if i > 0 {
			b.WriteString("\n")
		}
		walk(r, "", true, 0)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func dotQuote(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

var dotShape = map[Kind]string{
	PostgresTable: "cylinder", HTTPStream: "cds", KafkaTopic: "box3d",
	LakeTable: "folder", CHMirror: "box", CHView: "note", CHSummary: "component",
}

func (g *Graph) writeDOT(w io.Writer) error {
	var b strings.Builder
	b.WriteString("digraph lineage {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n")
	for _, n := range g.Nodes {
		label := n.Name + `\n` + kindLabel[n.Kind] + " (" + strings.Join(n.Pipelines, ", ") + ")"
		fmt.Fprintf(&b, "  %s [shape=%s, label=\"%s\"];\n", dotQuote(n.ID), dotShape[n.Kind], strings.ReplaceAll(label, `"`, `\"`))
	}
	for _, e := range g.Edges {
		fmt.Fprintf(&b, "  %s -> %s;\n", dotQuote(e.From), dotQuote(e.To))
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

var mermaidShape = map[Kind][2]string{
	PostgresTable: {"[(", ")]"}, HTTPStream: {"[/", "/]"}, KafkaTopic: {"[[", "]]"},
	LakeTable: {"[(", ")]"}, CHMirror: {"[", "]"}, CHView: {"(", ")"}, CHSummary: {"{{", "}}"},
}

// writeMermaid numbers nodes n0, n1… in graph order (Mermaid ids cannot
// hold the characters real ids have) and puts the id in a comment.
func (g *Graph) writeMermaid(w io.Writer) error {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	ids := map[string]string{}
	for i, n := range g.Nodes {
		ids[n.ID] = fmt.Sprintf("n%d", i)
		sh := mermaidShape[n.Kind]
		label := n.Name + "<br/>" + kindLabel[n.Kind] + " (" + strings.Join(n.Pipelines, ", ") + ")"
		fmt.Fprintf(&b, "  %%%% %s\n  %s%s\"%s\"%s\n", n.ID, ids[n.ID], sh[0], strings.ReplaceAll(label, `"`, "#quot;"), sh[1])
	}
	for _, e := range g.Edges {
		fmt.Fprintf(&b, "  %s --> %s\n", ids[e.From], ids[e.To])
	}
	_, err := io.WriteString(w, b.String())
	return err
}
