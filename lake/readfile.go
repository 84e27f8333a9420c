package lake

import (
	"fmt"

	"github.com/inlet-dev/inlet/change"
)

// ReadFile returns the change rows of one data file the log lists (rel as
// Files returns it), in offset order, decoded with the table's schema.
// Readers that must survive a damaged table (inlet verify) read file by
// file and report a file that cannot be read instead of stopping.
func (t *Table) ReadFile(rel string) ([]change.Row, error) {
	sc := t.Schema()
	cols, pos := t.physicalSchema(sc)
	rows, err := t.readFile(rel, cols, sc, pos)
	if err != nil {
		return nil, fmt.Errorf("lake table %s: read %s: %w", t.Name, rel, err)
	}
	return rows, nil
}
