package e2e

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

const schemaSQL = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE public.all_types (
  id bigint PRIMARY KEY,
  i2 smallint, i4 integer, i8 bigint,
  num numeric(20,6), num_free numeric,
  r real, d double precision,
  t text, vc varchar(40), c char(5),
  b boolean, dt date, ts timestamp, tstz timestamptz,
  u uuid, j json, jb jsonb, by bytea, m mood,
  ai integer[], at text[]
);
CREATE SCHEMA sales;
CREATE TABLE sales.customers (id integer PRIMARY KEY, name text NOT NULL, country text, score numeric(10,2), updated timestamptz);
ALTER TABLE sales.customers REPLICA IDENTITY FULL;
CREATE TABLE public.docs (id integer PRIMARY KEY, title text, body text, views integer);
`

// workload drives random changes and counts what it committed.
type workload struct {
	rng     *rand.Rand
	nextID  map[string]int64
	live    map[string][]int64
	changes map[string]int // committed changes per table (lake rows expected)
}

var tables = []string{"public.all_types", "sales.customers", "public.docs"}

func newWorkload(seed int64) *workload {
	return &workload{rng: rand.New(rand.NewSource(seed)), nextID: map[string]int64{}, live: map[string][]int64{}, changes: map[string]int{}}
}

func (w *workload) bigText(id int64) string {
	// ~6 KB of incompressible text, so Postgres stores it out of line (TOAST).
	var b strings.Builder
	for i := 0; b.Len() < 6000; i++ {
		s := md5.Sum([]byte(fmt.Sprintf("%d-%d-%d", id, i, w.rng.Int63())))
		b.WriteString(hex.EncodeToString(s[:]))
	}
	return b.String()
}

func (w *workload) insertSQL(table string) (string, []any) {
	w.nextID[table]++
	id := w.nextID[table]
	w.live[table] = append(w.live[table], id)
	r := w.rng
	switch table {
	case "public.all_types":
		return `INSERT INTO public.all_types VALUES ($1,$2,$3,$4,$5::numeric,$6::numeric,$7,$8,$9,$10,$11,$12,$13::date,$14::timestamp,$15::timestamptz,$16::uuid,$17::json,$18::jsonb,$19,$20::mood,$21::int[],$22::text[])`,
			[]any{id, int16(r.Intn(60000) - 30000), int32(r.Int31()), r.Int63() - r.Int63(),
				fmt.Sprintf("%d.%06d", r.Intn(1e9), r.Intn(1e6)), fmt.Sprintf("%d.%d", r.Int63(), r.Intn(1e9)),
				float32(r.Float32() * 1000), r.NormFloat64() * 1e6,
				fmt.Sprintf("text %d \"quoted\" \\ tab\t nl\n ünïcödé ✓", id), fmt.Sprintf("vc-%d", r.Intn(1e6)), fmt.Sprintf("c%d", r.Intn(99)),
				r.Intn(2) == 0, fmt.Sprintf("20%02d-%02d-%02d", 10+r.Intn(20), 1+r.Intn(12), 1+r.Intn(28)),
				fmt.Sprintf("2026-%02d-%02d %02d:%02d:%02d.%06d", 1+r.Intn(12), 1+r.Intn(28), r.Intn(24), r.Intn(60), r.Intn(60), r.Intn(1e6)),
				fmt.Sprintf("2025-%02d-%02d %02d:%02d:%02d.%06d+%02d", 1+r.Intn(12), 1+r.Intn(28), r.Intn(24), r.Intn(60), r.Intn(60), r.Intn(1e6), r.Intn(12)),
				fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", r.Uint32(), r.Intn(65536), r.Intn(4096), r.Intn(4096), r.Int63()&0xffffffffffff),
				fmt.Sprintf(`{"k": %d,  "s": "v"}`, r.Intn(100)), fmt.Sprintf(`{"n": %d, "arr": [1, 2, {"x": null}]}`, r.Intn(100)),
				[]byte{byte(r.Intn(256)), 0, 1, '\\', byte(r.Intn(256))}, []string{"sad", "ok", "happy"}[r.Intn(3)],
				fmt.Sprintf("{%d,NULL,%d}", r.Intn(100), r.Intn(100)), fmt.Sprintf(`{"a %d",NULL,"q\"x","c,d"}`, r.Intn(10)),
			}
	case "sales.customers":
		return `INSERT INTO sales.customers VALUES ($1,$2,$3,$4::numeric,now())`,
			[]any{int32(id), fmt.Sprintf("customer %d", id), []string{"DE", "FR", "US", "JP"}[r.Intn(4)], fmt.Sprintf("%d.%02d", r.Intn(1e6), r.Intn(100))}
	default:
		return `INSERT INTO public.docs VALUES ($1,$2,$3,$4)`, []any{int32(id), fmt.Sprintf("doc %d", id), w.bigText(id), int32(0)}
	}
}

func (w *workload) pick(table string, exclude map[int64]bool) (int64, int, bool) {
	ids := w.live[table]
	for tries := 0; tries < 20 && len(ids) > 0; tries++ {
		i := w.rng.Intn(len(ids))
		if !exclude[ids[i]] {
			return ids[i], i, true
		}
	}
	return 0, 0, false
}

func (w *workload) updateSQL(table string, id int64) (string, []any) {
	r := w.rng
	switch table {
	case "public.all_types":
		switch r.Intn(3) {
		case 0:
			return `UPDATE public.all_types SET num = $2::numeric, t = $3 WHERE id = $1`, []any{id, fmt.Sprintf("%d.%06d", r.Intn(1e6), r.Intn(1e6)), fmt.Sprintf("updated %d", r.Int63())}
		case 1:
			return `UPDATE public.all_types SET ai = NULL, at = '{}', b = NULL, tstz = now() WHERE id = $1`, []any{id}
		default:
			return `UPDATE public.all_types SET i4 = i4 / 2, m = 'happy', jb = '{"changed": true}' WHERE id = $1`, []any{id}
		}
	case "sales.customers":
		return `UPDATE sales.customers SET country = $2, score = score + 1, updated = now() WHERE id = $1`, []any{int32(id), []string{"DE", "FR", "US", "JP", "BR"}[r.Intn(5)]}
	default:
		if r.Intn(4) == 0 {
			return `UPDATE public.docs SET body = $2, views = views + 1 WHERE id = $1`, []any{int32(id), w.bigText(id)}
		}
		// Touches only non-TOAST columns: body arrives as "unchanged".
		return `UPDATE public.docs SET views = views + 1, title = $2 WHERE id = $1`, []any{int32(id), fmt.Sprintf("doc %d v%d", id, r.Intn(1000))}
	}
}

// preload inserts n rows per table outside any capture (before inlet starts).
func (w *workload) preload(t *testing.T, conn *pgx.Conn, perTable map[string]int) {
	ctx := context.Background()
	for _, table := range tables {
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < perTable[table]; i++ {
			q, args := w.insertSQL(table)
			if _, err := tx.Exec(ctx, q, args...); err != nil {
				t.Fatalf("preload %s: %v", table, err)
			}
			w.changes[table]++ // one snapshot read each
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

type op struct {
	kind  byte // c u d
	table string
}

// run executes inserts, updates and deletes, shuffled, in transactions of 1
// to 5,000 changes; no row changes twice in one transaction, so (key,
// commit LSN) is unique per change. between is called after each commit.
func (w *workload) run(t *testing.T, conn *pgx.Conn, inserts, updates, deletes map[string]int, between func(committed int)) {
	ctx := context.Background()
	var ops []op
	for _, table := range tables {
		for i := 0; i < inserts[table]; i++ {
			ops = append(ops, op{'c', table})
		}
		for i := 0; i < updates[table]; i++ {
			ops = append(ops, op{'u', table})
		}
		for i := 0; i < deletes[table]; i++ {
			ops = append(ops, op{'d', table})
		}
	}
	// Inserts first in a shuffled order overall, but keep enough live rows:
	// shuffle, then stable-move each delete/update after some inserts.
	w.rng.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
	sizes := []int{1, 1, 1, 2, 3, 5, 10, 50, 200, 1000, 5000}
	committed := 0
	for len(ops) > 0 {
		size := sizes[w.rng.Intn(len(sizes))]
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		touched := map[string]map[int64]bool{}
		for _, tb := range tables {
			touched[tb] = map[int64]bool{}
		}
		pending := map[string]int{}
		n := 0
		var rest []op
		for i, o := range ops {
			if n >= size {
				rest = append(rest, ops[i:]...)
				break
			}
			switch o.kind {
			case 'c':
				q, args := w.insertSQL(o.table)
				if _, err := tx.Exec(ctx, q, args...); err != nil {
					t.Fatalf("insert %s: %v", o.table, err)
				}
				touched[o.table][w.nextID[o.table]] = true
			case 'u', 'd':
				id, idx, ok := w.pick(o.table, touched[o.table])
				if !ok {
					rest = append(rest, o) // retry in a later transaction
					continue
				}
				touched[o.table][id] = true
				if o.kind == 'u' {
					q, args := w.updateSQL(o.table, id)
					if _, err := tx.Exec(ctx, q, args...); err != nil {
						t.Fatalf("update %s: %v", o.table, err)
					}
				} else {
					if _, err := tx.Exec(ctx, fmt.Sprintf("DELETE FROM %s WHERE id = $1", o.table), id); err != nil {
						t.Fatalf("delete %s: %v", o.table, err)
					}
					ids := w.live[o.table]
					ids[idx] = ids[len(ids)-1]
					w.live[o.table] = ids[:len(ids)-1]
				}
			}
			pending[o.table]++
			n++
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		for tb, c := range pending {
			w.changes[tb] += c
		}
		committed += n
		ops = rest
		if n == 0 && len(ops) > 0 {
			t.Fatalf("workload stuck with %d operations left (no rows to update or delete)", len(ops))
		}
		if between != nil {
			between(committed)
		}
	}
}

func (w *workload) totalChanges() int {
	n := 0
	for _, c := range w.changes {
		n += c
	}
	return n
}
