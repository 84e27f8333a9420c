package lake

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/parquet-go/parquet-go"
)

// Column-wise Parquet encoding. A batch's rows are turned into Parquet
// values one column at a time and handed to that column's writer in
// chunks, rather than assembled into a parquet.Row per row: each column's
// loop touches one kind of value, no per-row slice is allocated, and the
// columns of one file are independent, so they are encoded in parallel on
// the machine's cores (each column writer has its own buffers and pages;
// the file is assembled from them when the row group is flushed).

// chunkRows is how many rows' values a column hands its writer at once.
// The writer starts a page only between calls, so this bounds how far a
// page may run over its target size.
const chunkRows = 1024

// schemaRun is a run of consecutive rows with one schema, and where each
// table column is in that schema's values (-1: absent).
type schemaRun struct {
	end int // rows[start:end], start the previous run's end
	pos []int
}

// meta columns with their own fast path (values straight from the Row).
const (
	metaNone = iota
	metaOp
	metaVersion
	metaTs
	metaPartition
	metaOffset
)

func metaKind(name string) int {
	switch name {
	case "_op":
		return metaOp
	case "_version":
		return metaVersion
	case "_ts":
		return metaTs
	case "_kafka_partition":
		return metaPartition
	case "_kafka_offset":
		return metaOffset
	}
	return metaNone
}

// opBytes holds each op letter as a one-byte slice, so _op values need no
// allocation.
var opBytes = func() (b [256][1]byte) {
	for i := range b {
		b[i][0] = byte(i)
	}
	return b
}()

// runs splits rows into runs of one schema, mapping table columns to each
// schema's values once per schema.
func (rw *rowWriter) runs(rows []Row) []schemaRun {
	var out []schemaRun
	for i := range rows {
		sc := rows[i].Schema
		if i > 0 && sc == rows[i-1].Schema {
			out[len(out)-1].end = i + 1
			continue
		}
		m, ok := rw.idx[sc]
		if !ok {
			m = make([]int, len(rw.cols))
			pos := make(map[string]int, len(sc.Columns))
			for j, c := range sc.Columns {
				pos[c.Name] = j
			}
			for j, c := range rw.cols {
				if p, ok := pos[c.Name]; ok {
					m[j] = p
				} else {
					m[j] = -1
				}
			}
			rw.idx[sc] = m
		}
		out = append(out, schemaRun{end: i + 1, pos: m})
	}
	return out
}

// write encodes rows into the current row group, one column per goroutine
// (at most GOMAXPROCS at once).
func (rw *rowWriter) write(rows []Row) error {
	if len(rows) == 0 {
		return nil
	}
	runs := rw.runs(rows)
	writers := rw.w.ColumnWriters()
	errs := make([]error, len(rw.order))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for leaf, ci := range rw.order {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[leaf] = rw.column(writers[leaf], leaf, ci, rows, runs)
		}()
	}
	wg.Wait()
	for leaf, err := range errs {
		if err != nil {
			return fmt.Errorf("%w: column %s: %w", ErrIncompatible, rw.cols[rw.order[leaf]].Name, err)
		}
	}
	return nil
}

// column encodes table column ci (Parquet leaf leaf) of rows into cw.
func (rw *rowWriter) column(cw *parquet.ColumnWriter, leaf, ci int, rows []Row, runs []schemaRun) error {
	c := &rw.cols[ci]
	meta := metaKind(c.Name)
	buf := make([]parquet.Value, 0, chunkRows)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		_, err := cw.WriteRowValues(buf)
		buf = buf[:0]
		return err
	}
	start := 0
	for _, run := range runs {
		p := run.pos[ci]
		for i := start; i < run.end; i++ {
			r := &rows[i]
			var err error
			switch {
			case p >= 0:
				buf, err = appendValue(buf, c, r.Values[p], leaf)
			case meta == metaOp:
				buf = append(buf, parquet.ByteArrayValue(opBytes[r.Op][:]).Level(0, 1, leaf))
			case meta == metaVersion:
				buf = append(buf, parquet.Int64Value(int64(r.Version)).Level(0, 1, leaf))
			case meta == metaTs:
				buf = append(buf, parquet.Int64Value(r.TsMs*1000).Level(0, 1, leaf))
			case meta == metaPartition:
				buf = append(buf, parquet.Int32Value(r.Partition).Level(0, 1, leaf))
			case meta == metaOffset:
				buf = append(buf, parquet.Int64Value(r.Offset).Level(0, 1, leaf))
			default:
				buf, err = appendValue(buf, c, metaValue(c.Name, r), leaf)
			}
			if err != nil {
				return err
			}
			if (i+1)%chunkRows == 0 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		start = run.end
	}
	return flush()
}
