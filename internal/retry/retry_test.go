package retry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	base := errors.New("boom")
	for _, tc := range []struct {
		name string
		err  error
		want Class
	}{
		{"plain", base, Retriable},
		{"permanent", MarkPermanent(base), Permanent},
		{"wrapped permanent", fmt.Errorf("stage: %w", MarkPermanent(base)), Permanent},
		{"needs user", MarkNeedsUser(base, "create the slot"), NeedsUser},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), Permanent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.err); got != tc.want {
				t.Fatalf("Classify = %v, want %v", got, tc.want)
			}
		})
	}
	if f := Fix(fmt.Errorf("a: %w", MarkNeedsUser(base, "grant it"))); f != "grant it" {
		t.Fatalf("Fix = %q", f)
	}
}

func TestBackoffCapped(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond, NoJitter: true}
	var got []time.Duration
	for range 5 {
		got = append(got, b.Next())
	}
	want := []time.Duration{100, 200, 400, 400, 400}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("waits %v, want %v ms", got, want)
		}
	}
	j := Backoff{Initial: 100 * time.Millisecond}
	for range 20 {
		if d := j.Next(); d < 50*time.Millisecond || d > 30*time.Second {
			t.Fatalf("jittered wait %v out of range", d)
		}
	}
}

func TestDo(t *testing.T) {
	ctx := context.Background()
	fast := Backoff{Initial: time.Millisecond, NoJitter: true}
	n, retries, resolved := 0, 0, 0
	err := Do(ctx, fast, Hooks{OnRetry: func(error, int, time.Duration) { retries++ }, OnResolved: func(int) { resolved++ }},
		func(context.Context) error {
			if n++; n < 3 {
				return errors.New("flaky")
			}
			return nil
		})
	if err != nil || n != 3 || retries != 2 || resolved != 1 {
		t.Fatalf("err=%v attempts=%d retries=%d resolved=%d", err, n, retries, resolved)
	}
	n = 0
	err = Do(ctx, fast, Hooks{}, func(context.Context) error { n++; return MarkNeedsUser(errors.New("slot gone"), "recreate") })
	if Classify(err) != NeedsUser || n != 1 {
		t.Fatalf("needs-user error retried: attempts=%d err=%v", n, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	err = Do(cctx, fast, Hooks{}, func(context.Context) error { return errors.New("down") })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline in %v", err)
	}
}

type waitErr struct{ d time.Duration }

func (w waitErr) Error() string             { return "throttled" }
func (w waitErr) RetryAfter() time.Duration { return w.d }

// TestDoHonoursWaiter: an error that says how long to wait (Retry-After)
// replaces the backoff's wait.
func TestDoHonoursWaiter(t *testing.T) {
	var waits []time.Duration
	n := 0
	err := Do(context.Background(), Backoff{Initial: time.Millisecond, NoJitter: true}, Hooks{OnRetry: func(_ error, _ int, w time.Duration) {
		waits = append(waits, w)
	}}, func(context.Context) error {
		n++
		switch n {
		case 1:
			return fmt.Errorf("get: %w", waitErr{30 * time.Millisecond})
		case 2:
			return errors.New("plain")
		}
		return nil
	})
	if err != nil || len(waits) != 2 || waits[0] != 30*time.Millisecond || waits[1] != 2*time.Millisecond {
		t.Fatalf("err %v, waits %v; want nil, [30ms 2ms]", err, waits)
	}
}
