// Package retry is the one place that decides what an error means for the
// stage that hit it, and the one backoff loop every stage retries with.
//
// An error is one of three classes:
//
//	Retriable  the default: a service down, a timeout, a conflict. Wait and
//	           try again; the stage records an incident and, once an attempt
//	           succeeds, its resolution.
//	Permanent  retrying cannot help (undecodable data, a summary check that
//	           failed with on_check_failure: stop). The stage stops.
//	NeedsUser  a person must act (a slot dropped, a publication missing, a
//	           permission revoked, a wrong password). The stage stops and the
//	           message names the fix.
//
// Errors are classed where they are made, by wrapping them with Permanent
// or NeedsUser; Classify reads the class back through any %w chain.
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Class says what an error means for the stage that hit it.
type Class int

// The classes.
const (
	Retriable Class = iota
	Permanent
	NeedsUser
)

func (c Class) String() string {
	switch c {
	case Permanent:
		return "permanent"
	case NeedsUser:
		return "needs_user"
	}
	return "retriable"
}

type classified struct {
	err   error
	class Class
	fix   string
}

func (c *classified) Error() string {
	if c.fix != "" {
		return c.err.Error() + "; fix: " + c.fix
	}
	return c.err.Error()
}
func (c *classified) Unwrap() error { return c.err }

// MarkPermanent marks err as one retrying cannot fix.
func MarkPermanent(err error) error {
	if err == nil {
		return nil
	}
	return &classified{err: err, class: Permanent}
}

// MarkNeedsUser marks err as one a person must fix, and says how.
func MarkNeedsUser(err error, fix string) error {
	if err == nil {
		return nil
	}
	return &classified{err: err, class: NeedsUser, fix: fix}
}

// Classify returns err's class: the outermost mark in its chain, else
// Retriable. A cancelled context is Permanent (the stage is stopping).
func Classify(err error) Class {
	var c *classified
	if errors.As(err, &c) {
		return c.class
	}
	if errors.Is(err, context.Canceled) {
		return Permanent
	}
	return Retriable
}

// Fix returns the fix a NeedsUser error names, or "".
func Fix(err error) string {
	var c *classified
	if errors.As(err, &c) {
		return c.fix
	}
	return ""
}

// Backoff is an exponential backoff with full jitter: the n-th wait is
// drawn from [d/2, d) where d = Initial·2ⁿ capped at Max.
type Backoff struct {
	Initial time.Duration // default 500ms
	Max     time.Duration // default 30s
	// NoJitter makes waits exact (tests, and loops where one process is the
	// only client).
	NoJitter bool
	next     time.Duration
}

// Next returns the next wait and doubles the one after.
func (b *Backoff) Next() time.Duration {
	if b.Initial <= 0 {
		b.Initial = 500 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 30 * time.Second
	}
	if b.next == 0 {
		b.next = b.Initial
	}
	d := b.next
	b.next = min(b.next*2, b.Max)
	if b.NoJitter || d < 2 {
		return d
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)))
}

// Reset starts the waits over from Initial.
func (b *Backoff) Reset() { b.next = 0 }

// Hooks are told of each failed attempt and of success after failures; a
// stage records them as incidents.
type Hooks struct {
	// OnRetry is called after a retriable failure, before waiting wait.
	OnRetry func(err error, attempt int, wait time.Duration)
	// OnResolved is called when an attempt succeeds after failed ones.
	OnResolved func(attempts int)
}

// Waiter is an error that says how long to wait before the next attempt
// (an HTTP Retry-After, a broker's throttle). Do waits that long instead
// of the backoff's next wait when it is positive.
type Waiter interface {
	RetryAfter() time.Duration
}

// Do runs fn until it succeeds, fails with a Permanent or NeedsUser error
// (returned as is), or ctx ends (the last error is returned, wrapped with
// ctx's). Waits between attempts come from b, or from the error when it
// is a Waiter.
func Do(ctx context.Context, b Backoff, h Hooks, fn func(ctx context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			if attempt > 1 && h.OnResolved != nil {
				h.OnResolved(attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (stopped while retrying: %w)", err, ctx.Err())
		}
		if Classify(err) != Retriable {
			return err
		}
		wait := b.Next()
		var w Waiter
		if errors.As(err, &w) && w.RetryAfter() > 0 {
			wait = w.RetryAfter()
		}
		if h.OnRetry != nil {
			h.OnRetry(err, attempt, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (stopped while retrying: %w)", err, ctx.Err())
		case <-t.C:
		}
	}
}
