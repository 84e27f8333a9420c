package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// CommitMerged commits the offsets of b (the partitions one engine owns)
// as the sink's next batch, merged into its latest batch: the engines of
// a consumer group share each sink's history, each one moving only the
// partitions it holds. A partition's offset never goes back (the higher
// of the latest and b's wins), so an engine that lost a partition and
// has not heard yet cannot undo its new owner's progress. Table versions
// merge the same way. b.ID is ignored; the committed batch, with its id,
// is returned.
//
// It is optimistic: read the latest, commit it as the next id, and on
// ErrConflict (another engine committed in between) read again and
// retry, a bounded number of times.
func CommitMerged(ctx context.Context, s Store, b Batch) (Batch, error) {
	var last error
	for attempt := range 50 {
		if attempt > 0 {
			// Jittered: the engines that collided do not collide again.
			t := time.NewTimer(time.Duration(1+rand.IntN(5*min(attempt, 10))) * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return Batch{}, ctx.Err()
			case <-t.C:
			}
		}
		latest, ok, err := s.Latest(ctx, b.Sink)
		if err != nil {
			return Batch{}, err
		}
		nb := Merge(latest, b)
		nb.ID = 1
		if ok {
			nb.ID = latest.ID + 1
		}
		err = s.Commit(ctx, nb)
		if err == nil {
			return nb, nil
		}
		if !errors.Is(err, ErrConflict) {
			return Batch{}, err
		}
		last = err
	}
	return Batch{}, fmt.Errorf("commit checkpoint %s: gave up after 50 conflicts with other engines: %w", b.Sink, last)
}

// Merge returns b's rows and time with the offsets and table versions of
// latest and b merged, each partition and table at the higher of the two.
func Merge(latest, b Batch) Batch {
	nb := b
	next := map[[2]any]Offset{}
	for _, o := range latest.Offsets {
		next[[2]any{o.Topic, o.Partition}] = o
	}
	for _, o := range b.Offsets {
		k := [2]any{o.Topic, o.Partition}
		if cur, ok := next[k]; !ok || o.Next > cur.Next {
			next[k] = o
		}
	}
	nb.Offsets = make([]Offset, 0, len(next))
	for _, o := range next {
		nb.Offsets = append(nb.Offsets, o)
	}
	SortOffsets(nb.Offsets)
	if len(latest.LakeVersions)+len(b.LakeVersions) > 0 {
		nb.LakeVersions = map[string]int64{}
		for t, v := range latest.LakeVersions {
			nb.LakeVersions[t] = v
		}
		for t, v := range b.LakeVersions {
			if v > nb.LakeVersions[t] {
				nb.LakeVersions[t] = v
			}
		}
	}
	return nb
}
