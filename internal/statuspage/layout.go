package statuspage

import (
	"sort"
	"strings"

	"github.com/inlet-dev/inlet/internal/lineage"
)

// column is where a kind of node is drawn: sources → topics → lake tables
// and ClickHouse mirrors → views → summaries.
var column = map[lineage.Kind]int{
	lineage.PostgresTable: 0, lineage.HTTPStream: 0,
	lineage.KafkaTopic: 1,
	lineage.LakeTable:  2, lineage.CHMirror: 2,
	lineage.CHView:    3,
	lineage.CHSummary: 4,
}

// layout places every node in a column by kind and a row so that each
// source's flow forms one horizontal band: a source's band holds what is
// downstream of it and not of an earlier source (graph order), stacked
// per column; a band is as tall as its fullest column.
func layout(g *lineage.Graph) map[string][2]int {
	out := map[string][]string{}
	for _, e := range g.Edges {
		out[e.From] = append(out[e.From], e.To)
	}
	band := map[string]int{}
	nbands := 0
	for _, n := range g.Nodes {
		if n.Kind != lineage.PostgresTable && n.Kind != lineage.HTTPStream {
			continue
		}
		if _, ok := band[n.ID]; ok {
			continue
		}
		b := nbands
		nbands++
		band[n.ID] = b
		queue := []string{n.ID}
		for len(queue) > 0 {
			id := queue[0]
			queue = queue[1:]
			for _, m := range out[id] {
				if _, ok := band[m]; !ok {
					band[m] = b
					queue = append(queue, m)
				}
			}
		}
	}
	for _, n := range g.Nodes { // not reachable from a source (none today)
		if _, ok := band[n.ID]; !ok {
			band[n.ID] = nbands
			nbands++
		}
	}
	// Per band and column, nodes in graph order (kind rank, then id).
	cells := make([]map[int][]string, nbands)
	for i := range cells {
		cells[i] = map[int][]string{}
	}
	for _, n := range g.Nodes {
		b, c := band[n.ID], column[n.Kind]
		cells[b][c] = append(cells[b][c], n.ID)
	}
	for _, cols := range cells { // the lake first, so a mirror sits beside its view
		lakeCol := cols[column[lineage.LakeTable]]
		sort.SliceStable(lakeCol, func(i, j int) bool {
			return strings.HasPrefix(lakeCol[i], "lake:") && !strings.HasPrefix(lakeCol[j], "lake:")
		})
	}
	pos := map[string][2]int{}
	row := 0
	for _, cols := range cells {
		height := 1
		for c, ids := range cols {
			// A view sits beside its mirror: start the views column at
			// the first mirror's row.
			off := 0
			if c == column[lineage.CHView] || c == column[lineage.CHSummary] {
				off = len(cols[column[lineage.LakeTable]]) - len(cols[column[lineage.CHView]])
				if off < 0 {
					off = 0
				}
			}
			for i, id := range ids {
				pos[id] = [2]int{c, row + off + i}
			}
			height = max(height, off+len(ids))
		}
		row += height
	}
	return pos
}
