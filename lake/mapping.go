package lake

import (
	"encoding/json"
	"strconv"

	"github.com/inlet-dev/inlet/change"
)

// columnMapping is a table's Delta column mapping in name mode
// (delta.columnMapping.mode = name): each field of the schema has an id and
// a physical name, the name of its column in the Parquet files, so a
// source column renamed keeps its files' values under its new name. A
// table gets it at its first rename: every column's physical name is then
// its name so far (the files written before stay readable as they are);
// later columns get their own name, or "col-<uuid>" when a renamed column
// holds it.
//
// N.B. https://github.com/delta-io/delta/blob/master/PROTOCOL.md#column-mapping
type columnMapping struct {
	phys  map[string]string // logical name → physical name
	ids   map[string]int    // logical name → delta.columnMapping.id
	maxID int
	// renamedAt is, by source Attnum, the newest row version of the
	// schema that last renamed the column: a schema whose rows are older
	// names it as it was, and is not followed (configuration
	// inlet.renamedAt).
	renamedAt map[int]uint64
}

// enableMapping starts a mapping for a table with columns cols and
// partition column part: every physical name is the column's name.
func enableMapping(cols []change.Column, part string) *columnMapping {
	m := &columnMapping{phys: map[string]string{}, ids: map[string]int{}, renamedAt: map[int]uint64{}}
	for _, c := range cols {
		m.add(c.Name, c.Name)
	}
	if part != "" {
		m.add(part, part)
	}
	return m
}

func (m *columnMapping) add(name, phys string) {
	m.maxID++
	m.phys[name], m.ids[name] = phys, m.maxID
}

func (m *columnMapping) clone() *columnMapping {
	if m == nil {
		return nil
	}
	c := &columnMapping{phys: map[string]string{}, ids: map[string]int{}, maxID: m.maxID, renamedAt: map[int]uint64{}}
	for k, v := range m.renamedAt {
		c.renamedAt[k] = v
	}
	for k, v := range m.phys {
		c.phys[k] = v
	}
	for k, v := range m.ids {
		c.ids[k] = v
	}
	return c
}

// rename moves the logical names of renames (new name → old name); all at
// once, so a → b, b → c moves both.
func (m *columnMapping) rename(renames map[string]string) {
	phys, ids := map[string]string{}, map[string]int{}
	for to, from := range renames {
		phys[to], ids[to] = m.phys[from], m.ids[from]
	}
	for _, from := range renames {
		delete(m.phys, from)
		delete(m.ids, from)
	}
	for to := range renames {
		m.phys[to], m.ids[to] = phys[to], ids[to]
	}
}

// assign gives the columns without a mapping (added since) an id and a
// physical name.
func (m *columnMapping) assign(cols []change.Column) {
	used := map[string]bool{}
	for _, p := range m.phys {
		used[p] = true
	}
	for _, c := range cols {
		if _, ok := m.phys[c.Name]; ok {
			continue
		}
		p := c.Name
		if used[p] {
			p = "col-" + newUUID()
		}
		used[p] = true
		m.add(c.Name, p)
	}
}

// name is the physical name of a logical column name.
func (m *columnMapping) name(logical string) string {
	if m == nil {
		return logical
	}
	if p, ok := m.phys[logical]; ok {
		return p
	}
	return logical
}

// fieldMetadata adds the mapping of a field to its metadata.
func (m *columnMapping) fieldMetadata(name string, md map[string]any) {
	if m == nil {
		return
	}
	md["delta.columnMapping.id"] = m.ids[name]
	md["delta.columnMapping.physicalName"] = m.name(name)
}

// configure adds the mapping's table properties to a configuration.
func (m *columnMapping) configure(conf map[string]string) {
	if m == nil {
		return
	}
	conf["delta.columnMapping.mode"] = "name"
	conf["delta.columnMapping.maxColumnId"] = strconv.Itoa(m.maxID)
	if len(m.renamedAt) > 0 {
		b, _ := json.Marshal(m.renamedAt)
		conf["inlet.renamedAt"] = string(b)
	}
}

// older reports whether a schema whose newest row is at version top is
// older than the rename of column attnum.
func (m *columnMapping) older(attnum int, top uint64) bool {
	return m != nil && attnum != 0 && top < m.renamedAt[attnum]
}

// mappingOf reads a table's column mapping from its metaData (nil: none).
func mappingOf(md *metaDataAction) *columnMapping {
	if md.Configuration["delta.columnMapping.mode"] != "name" {
		return nil
	}
	var st struct {
		Fields []struct {
			Name     string `json:"name"`
			Metadata struct {
				ID   int    `json:"delta.columnMapping.id"`
				Phys string `json:"delta.columnMapping.physicalName"`
			} `json:"metadata"`
		} `json:"fields"`
	}
	m := &columnMapping{phys: map[string]string{}, ids: map[string]int{}, renamedAt: map[int]uint64{}}
	if at := md.Configuration["inlet.renamedAt"]; at != "" {
		json.Unmarshal([]byte(at), &m.renamedAt)
	}
	if json.Unmarshal([]byte(md.SchemaString), &st) != nil {
		return m
	}
	for _, f := range st.Fields {
		m.phys[f.Name], m.ids[f.Name] = f.Metadata.Phys, f.Metadata.ID
	}
	m.maxID, _ = strconv.Atoi(md.Configuration["delta.columnMapping.maxColumnId"])
	return m
}

// physicalColumns returns cols named as in the Parquet files.
func (m *columnMapping) physicalColumns(cols []change.Column) []change.Column {
	if m == nil {
		return cols
	}
	out := make([]change.Column, len(cols))
	for i, c := range cols {
		c.Name = m.name(c.Name)
		out[i] = c
	}
	return out
}

// physicalRows returns rows whose schemas name their columns as in the
// Parquet files, for a table with columns cols: a row's column is the
// table's column with its Attnum (a row written before a rename carries
// the old name), else the one with its name.
func (m *columnMapping) physicalRows(rows []Row, cols []change.Column) []Row {
	if m == nil {
		return rows
	}
	byNum := map[int]string{}
	for _, c := range cols {
		if c.Attnum != 0 {
			byNum[c.Attnum] = c.Name
		}
	}
	schemas := map[*change.Schema]*change.Schema{}
	out := make([]Row, len(rows))
	for i, r := range rows {
		ps, ok := schemas[r.Schema]
		if !ok {
			cp := *r.Schema
			cp.Columns = make([]change.Column, len(r.Schema.Columns))
			for j, c := range r.Schema.Columns {
				name := c.Name
				if n, ok := byNum[c.Attnum]; ok && c.Attnum != 0 {
					name = n
				}
				c.Name = m.name(name)
				cp.Columns[j] = c
			}
			cp.Fingerprint += "/physical"
			ps = &cp
			schemas[r.Schema] = ps
		}
		r.Schema = ps
		out[i] = r
	}
	return out
}

// physicalSchema is sc (the table's logical schema) named as in the files,
// and the position of each physical name in sc.
func (t *Table) physicalSchema(sc *change.Schema) ([]change.Column, map[string]int) {
	pos := map[string]int{}
	for i, c := range sc.Columns {
		pos[t.mapping.name(c.Name)] = i
	}
	return t.mapping.physicalColumns(t.columns), pos
}
