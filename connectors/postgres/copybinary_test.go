package postgres

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/inlet-dev/inlet/connectors/conf"
	"github.com/inlet-dev/inlet/internal/testenv"
)

// binaryValues are the values each column cycles through: the edges of
// every form the binary decoder handles (NULL included).
var binaryValues = []struct{ col, typ, values string }{
	{"i2", "int2", `'-32768','32767','0',NULL`},
	{"i4", "int4", `'-2147483648','2147483647','7'`},
	{"i8", "int8", `'-9223372036854775808','9223372036854775807','42',NULL`},
	{"b", "bool", `'t','f',NULL`},
	{"n", "numeric", `'0','0.00','-1.5','123456789.123456789','0.00000000000000000001','100000000000000000000',
		'NaN','Infinity','-Infinity','10000','9999.9999','0.0001','100000000','1.10','-0.000120',
		'12345678901234567890.0000000001',NULL`},
	{"n2", "numeric(12,2)", `'0','1','-99.99','1234567890.12','0.5'`},
	{"d", "date", `'2000-01-01','1999-12-31','0044-03-15 BC','4713-01-01 BC','5874897-12-31','infinity','-infinity',
		'1900-02-28','2024-02-29','0001-01-01','0001-12-31 BC',NULL`},
	{"ts", "timestamp", `'2000-01-01 00:00:00','1999-12-31 23:59:59.999999','1970-01-01 00:00:00.5',
		'0044-03-15 12:34:56.123 BC','294276-12-31 23:59:59.999999','infinity','-infinity','2026-06-01 12:00:00.000001',
		'4713-01-01 00:00:00 BC','1900-01-01 23:00:00.1',NULL`},
	{"tz", "timestamptz", `'2000-01-01 00:00:00+00','1999-12-31 23:59:59.999999+00','2026-03-29 01:30:00+02',
		'0044-03-15 12:34:56.123+00 BC','infinity','-infinity','1850-07-01 10:00:00.25-03',NULL`},
	{"u", "uuid", `'00000000-0000-0000-0000-000000000000','a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11','ffffffff-ffff-ffff-ffff-ffffffffffff'`},
	{"t", "text", `'','plain','tab	here','new
line','back\slash','ünïcødé ✓','"quoted"',NULL`},
	{"vc", "varchar(12)", `'a','twelve chars',''`},
	{"bc", "char(5)", `'ab','abcde',' x'`},
	{"nm", "name", `'pg_class','x'`},
	{"j", "json", `'{"a": [1, 2.50, "x\ny"]}','"é"','null','  {"spaced" : true}  '`},
	{"jb", "jsonb", `'{"a": [1, 2.50, "x\ny"]}','"é"','null','{"b":1,"a":{"c":[]}}'`},
	{"e", "mood", `'happy','sad',NULL`},
	{"dm", "posint", `'1','2147483647'`},
	{"dt", "shorttext", `'domain text',''`},
}

func TestBinaryCopyMatchesText(t *testing.T) {
	pg := testenv.StartPostgres(t)
	ctx := context.Background()
	cc, err := pgx.ParseConfig(pg.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range sessionParams {
		cc.RuntimeParams[k] = v
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	cols, sels := []string{"id int PRIMARY KEY"}, []string{"i"}
	for _, v := range binaryValues {
		cols = append(cols, fmt.Sprintf("%s %s", v.col, v.typ))
		arr := fmt.Sprintf("(ARRAY[%s]::text[])", v.values)
		sels = append(sels, fmt.Sprintf("%s[1 + (i * 7 + %d) %% cardinality(%s)]::%s", arr, len(sels), arr, v.typ))
	}
	rows := 200
	for _, q := range []string{
		"CREATE TYPE mood AS ENUM ('happy', 'sad')",
		"CREATE DOMAIN posint AS int4 CHECK (VALUE > 0)",
		"CREATE DOMAIN shorttext AS text",
		fmt.Sprintf("CREATE TABLE bin (%s)", strings.Join(cols, ", ")),
		fmt.Sprintf("INSERT INTO bin SELECT %s FROM generate_series(1, %d) i", strings.Join(sels, ", "), rows),
		"CREATE TABLE withfloat (id int PRIMARY KEY, f float8)",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	types, err := loadTypes(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	ti, err := loadTable(ctx, conn, types, conf.TableName{Schema: "public", Table: "bin"}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if !ti.binaryCopy() {
		t.Fatalf("table bin should copy in binary; wires %v", ti.wires)
	}
	if tf, err := loadTable(ctx, conn, types, conf.TableName{Schema: "public", Table: "withfloat"}, nil, false); err != nil || tf.binaryCopy() {
		t.Fatalf("a float8 column has no binary decoder: the table must copy as text (err %v)", err)
	}

	sql := chunkSQL(ti, nil, rows+1, "")
	var text, bin bytes.Buffer
	if _, err := conn.PgConn().CopyTo(ctx, &text, sql); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.PgConn().CopyTo(ctx, &bin, sql+" (FORMAT binary)"); err != nil {
		t.Fatal(err)
	}

	// 1. Every value's text form equals what Postgres wrote.
	lines := strings.Split(strings.TrimSuffix(text.String(), "\n"), "\n")
	p := bin.Bytes()
	n, err := binaryHeader(p)
	if err != nil || n == 0 {
		t.Fatalf("header: %d %v", n, err)
	}
	p = p[n:]
	var raw [][]byte
	checked := 0
	for i, line := range lines {
		want, _ := copyFields([]byte(line), nil, nil)
		k, got, end, err := binaryTuple(p, raw)
		if err != nil || k == 0 || end {
			t.Fatalf("row %d: tuple %d %v %v", i, k, end, err)
		}
		p = p[k:]
		if len(got) != len(want) {
			t.Fatalf("row %d: %d fields, want %d", i, len(got), len(want))
		}
		for j, b := range got {
			if b == nil || want[j] == nil {
				if (b == nil) != (want[j] == nil) {
					t.Errorf("row %d column %s: NULL mismatch (binary %q, text %q)", i, ti.columns[j].Name, b, want[j])
				}
				continue
			}
			s, err := appendWireText(nil, ti.wires[j], b)
			if err != nil {
				t.Errorf("row %d column %s: %v", i, ti.columns[j].Name, err)
				continue
			}
			if string(s) != string(want[j]) {
				t.Errorf("row %d column %s (%s): binary gives %q, Postgres wrote %q", i, ti.columns[j].Name, ti.columns[j].SourceType, s, want[j])
			}
			checked++
		}
	}
	if _, _, end, _ := binaryTuple(p, raw); !end {
		t.Fatalf("no trailer after %d rows", len(lines))
	}
	if len(lines) != rows || checked < rows*len(binaryValues)/2 {
		t.Fatalf("compared %d values in %d rows; want %d rows", checked, len(lines), rows)
	}

	// 2. The records are byte for byte those of the text format, with the
	// binary output cut into random pieces. (Infinite timestamptz values
	// stop the encoder in both formats; the README lists the limit.)
	finite := chunkSQL(ti, nil, rows+1, "tz IS NULL OR isfinite(tz)")
	text.Reset()
	bin.Reset()
	if _, err := conn.PgConn().CopyTo(ctx, &text, finite); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.PgConn().CopyTo(ctx, &bin, finite+" (FORMAT binary)"); err != nil {
		t.Fatal(err)
	}
	want := strings.Count(text.String(), "\n")
	encode := func(wires []wire, data []byte, pieces bool) ([][]byte, []string) {
		w := &copyWriter{s: &Source{}, ctx: ctx, enc: newTableEncFor(ti), wires: wires, ch: &chunker{}, keyIdx: keyIndexes(ti)}
		rnd := rand.New(rand.NewSource(1))
		for len(data) > 0 {
			k := len(data)
			if pieces {
				k = min(k, 1+rnd.Intn(300))
			}
			if _, err := w.Write(data[:k]); err != nil {
				t.Fatal(err)
			}
			data = data[k:]
		}
		if len(w.partial) > 0 || w.err != nil {
			t.Fatalf("left %d bytes, err %v", len(w.partial), w.err)
		}
		var out [][]byte
		for _, r := range w.ch.recs {
			out = append(out, append(append([]byte{}, r.Key...), r.Value...))
		}
		return out, w.lastKey()
	}
	tr, tkey := encode(nil, text.Bytes(), false)
	br, bkey := encode(ti.wires, bin.Bytes(), true)
	if len(tr) != want || len(br) != want || want < rows/2 {
		t.Fatalf("records: text %d, binary %d, want %d", len(tr), len(br), want)
	}
	for i := range tr {
		if !bytes.Equal(tr[i], br[i]) {
			t.Fatalf("record %d differs:\ntext   %s\nbinary %s", i, tr[i], br[i])
		}
	}
	if strings.Join(tkey, ",") != strings.Join(bkey, ",") {
		t.Fatalf("last key: text %q, binary %q", tkey, bkey)
	}
}

func newTableEncFor(ti *tableInfo) *tableEnc {
	return (&Source{pipeline: "p", db: "postgres"}).encoderFor(ti.name, ti.columns)
}

// FuzzBinaryCopy: malformed binary COPY data is an error, never a panic or
// a read past the input, for every wire form.
func FuzzBinaryCopy(f *testing.F) {
	f.Add([]byte{0, 2, 0, 0, 0, 1, 'x', 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 1, 0, 0, 0, 8, 0, 1, 0, 0, 0x40, 0, 0, 2})
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, p []byte) {
		n, fields, _, err := binaryTuple(p, nil)
		if err != nil {
			return
		}
		if n > len(p) {
			t.Fatalf("consumed %d of %d bytes", n, len(p))
		}
		for _, b := range fields {
			for w := wireRaw; w <= wireUUID; w++ {
				appendWireText(nil, w, b)
			}
		}
		if len(p) >= 8 {
			appendNumericText(nil, p)
		}
	})
}
