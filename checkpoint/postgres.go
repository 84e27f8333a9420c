package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresStore keeps checkpoints in a Postgres table, for deployments that
// run several engine processes or want checkpoints off the local disk:
//
//	CREATE TABLE <table> (pipeline text, sink text, id bigint, time timestamptz,
//	                      batch jsonb, PRIMARY KEY (pipeline, sink, id))
//
// Commit inserts the next id only if it follows the latest one, so two
// writers of one sink cannot both commit.
type PostgresStore struct {
	pool     *pgxpool.Pool
	table    string
	pipeline string
}

var _ Store = (*PostgresStore)(nil)

var identRe = regexp.MustCompile(`^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$`)

// OpenPostgres connects and creates the table if needed.
func OpenPostgres(ctx context.Context, dsn, table, pipeline string) (*PostgresStore, error) {
	if !identRe.MatchString(table) {
		return nil, fmt.Errorf("checkpoint table %q: use a plain lower-case name, optionally schema-qualified", table)
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("checkpoint store: %w", err)
	}
	s := &PostgresStore{pool: pool, table: table, pipeline: pipeline}
	_, err = pool.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (
		pipeline text NOT NULL, sink text NOT NULL, id bigint NOT NULL,
		time timestamptz NOT NULL, batch jsonb NOT NULL,
		PRIMARY KEY (pipeline, sink, id))`, table))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "23505" || pgErr.Code == "42P07") {
		// N.B. Several engines starting at once race CREATE TABLE IF NOT
		// EXISTS; the loser fails on the catalog's unique index although
		// the table now exists.
		err = nil
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("checkpoint store: create %s: %w", table, err)
	}
	return s, nil
}

// Commit implements Store.
func (s *PostgresStore) Commit(ctx context.Context, b Batch) error {
	if b.Time.IsZero() {
		b.Time = time.Now().UTC()
	}
	data, err := Encode(b)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, fmt.Sprintf(`INSERT INTO %[1]s (pipeline, sink, id, time, batch)
		SELECT $1::text, $2::text, $3::bigint, $4::timestamptz, $5::jsonb
		WHERE COALESCE((SELECT max(id) FROM %[1]s WHERE pipeline = $1::text AND sink = $2::text), 0) = $3::bigint - 1`, s.table),
		s.pipeline, b.Sink, int64(b.ID), b.Time, data)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		// Two writers inserted the same next id at once; one won.
		return fmt.Errorf("commit checkpoint %s/%d: %w", b.Sink, b.ID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("commit checkpoint %s/%d: %w", b.Sink, b.ID, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("commit checkpoint %s/%d: not the next id: %w", b.Sink, b.ID, ErrConflict)
	}
	return nil
}

// Latest implements Store.
func (s *PostgresStore) Latest(ctx context.Context, sink string) (Batch, bool, error) {
	var data []byte
	err := s.pool.QueryRow(ctx, fmt.Sprintf(`SELECT batch::text FROM %s WHERE pipeline = $1 AND sink = $2 ORDER BY id DESC LIMIT 1`, s.table), s.pipeline, sink).Scan(&data)
	if err == pgx.ErrNoRows {
		return Batch{}, false, nil
	}
	if err != nil {
		return Batch{}, false, fmt.Errorf("read checkpoint: %w", err)
	}
	b, err := Decode(data)
	return b, err == nil, err
}

// History implements Store.
func (s *PostgresStore) History(ctx context.Context, sink string) ([]Batch, error) {
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`SELECT batch::text FROM %s WHERE pipeline = $1 AND sink = $2 ORDER BY id`, s.table), s.pipeline, sink)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint history: %w", err)
	}
	defer rows.Close()
	var out []Batch
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		b, err := Decode(data)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// Rewind implements Store.
func (s *PostgresStore) Rewind(ctx context.Context, sink string, id uint64) (Batch, error) {
	hist, err := s.History(ctx, sink)
	if err != nil {
		return Batch{}, err
	}
	if len(hist) == 0 {
		return Batch{}, fmt.Errorf("rewind %s: no checkpoints yet", sink)
	}
	for _, b := range hist {
		if b.ID == id {
			nb := b
			nb.ID = hist[len(hist)-1].ID + 1
			nb.Time = time.Now().UTC()
			nb.Rows = nil
			return nb, s.Commit(ctx, nb)
		}
	}
	return Batch{}, fmt.Errorf("rewind %s: no checkpoint %d (see inlet checkpoints)", sink, id)
}

// Prune implements Store, in one transaction: the batches before the cut
// are deleted and the first kept one gets the folded table versions.
func (s *PostgresStore) Prune(ctx context.Context, sink string, before time.Time) (int, error) {
	hist, err := s.History(ctx, sink)
	if err != nil {
		return 0, err
	}
	kept, removed := Fold(hist, before)
	if removed == 0 {
		return 0, nil
	}
	data, err := Encode(kept[0])
	if err != nil {
		return 0, err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("prune checkpoint history: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE pipeline = $1 AND sink = $2 AND id < $3`, s.table), s.pipeline, sink, int64(kept[0].ID)); err != nil {
		return 0, fmt.Errorf("prune checkpoint history: %w", err)
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s SET batch = $4::jsonb WHERE pipeline = $1 AND sink = $2 AND id = $3`, s.table), s.pipeline, sink, int64(kept[0].ID), data); err != nil {
		return 0, fmt.Errorf("prune checkpoint history: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("prune checkpoint history: %w", err)
	}
	return removed, nil
}

// Close implements Store.
func (s *PostgresStore) Close() error {
	s.pool.Close()
	return nil
}

// Lock takes Postgres advisory locks on keys (session locks, on one
// connection, in sorted order so two holders of overlapping sets cannot
// deadlock), waiting until they are free or ctx ends. unlock releases
// them; a process that dies releases them with its session. Engines of
// one consumer group use it so that work on one shared thing (a summary
// table's refresh) never runs in two of them at once.
func (s *PostgresStore) Lock(ctx context.Context, keys ...string) (unlock func(), err error) {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("checkpoint store: lock: %w", err)
	}
	ids := make([]int64, len(keys))
	release := func(n int) {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, id := range ids[:n] {
			if _, err := conn.Exec(cctx, "SELECT pg_advisory_unlock($1)", id); err != nil {
				// The session's locks must not outlive us: drop it.
				conn.Conn().Close(cctx)
				break
			}
		}
		conn.Release()
	}
	for i, k := range keys {
		h := fnv.New64a()
		h.Write([]byte("inlet/" + s.pipeline + "/" + k))
		ids[i] = int64(h.Sum64())
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", ids[i]); err != nil {
			release(i)
			return nil, fmt.Errorf("checkpoint store: lock %s: %w", k, err)
		}
	}
	return func() { release(len(keys)) }, nil
}
