package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/inlet-dev/inlet/internal/retry"
)

// fetcher makes requests to one API: at most rate_limit of them, each
// bounded by the timeout, failed ones retried with exponential backoff and
// jitter (honouring Retry-After on 429 and 503).
type fetcher struct {
	client  *http.Client
	headers map[string]string
	limit   *rate.Limiter
	retries int
	redact  func(string) string

	requests int64 // made, including retries
}

// apiError is a response the source cannot use; it names the URL
// (secrets redacted) and shows a sample of the body.
type apiError struct {
	url    string
	status int
	msg    string
	sample string
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("%s: %s", e.url, e.msg)
	if e.status != 0 {
		s = fmt.Sprintf("%s: HTTP %d: %s", e.url, e.status, e.msg)
	}
	if e.sample != "" {
		s += fmt.Sprintf("; body starts %q", e.sample)
	}
	return s
}

func sample(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// get fetches u and returns the body and the response headers. Transport
// errors, timeouts, 429 and 5xx are retried (internal/retry: exponential
// backoff with jitter, or the server's Retry-After); other statuses are not.
func (f *fetcher) get(ctx context.Context, u *url.URL) ([]byte, http.Header, error) {
	shown := f.redact(u.String())
	var (
		body     []byte
		hdr      http.Header
		attempts int
	)
	err := retry.Do(ctx, retry.Backoff{Initial: 200 * time.Millisecond, Max: 30 * time.Second}, retry.Hooks{}, func(ctx context.Context) error {
		if f.limit != nil {
			if err := f.limit.Wait(ctx); err != nil {
				return err
			}
		}
		attempts++
		var err error
		body, hdr, err = f.once(ctx, u, shown)
		var perm *apiError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &perm):
			return retry.MarkPermanent(err)
		case attempts > f.retries:
			return retry.MarkPermanent(fmt.Errorf("%w (gave up after %d attempts)", err, attempts))
		}
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, err
	}
	return body, hdr, nil
}

// retryAfter is a retriable response, with the wait the server asked for.
type retryAfter struct {
	msg string
	d   time.Duration
}

func (r *retryAfter) Error() string { return r.msg }

// RetryAfter implements retry.Waiter.
func (r *retryAfter) RetryAfter() time.Duration { return r.d }

func (f *fetcher) once(ctx context.Context, u *url.URL, shown string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, &apiError{url: shown, msg: err.Error()}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "inlet")
	for k, v := range f.headers {
		req.Header.Set(k, v)
	}
	f.requests++
	requests.Inc()
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, nil, &retryAfter{msg: f.redact(fmt.Sprintf("%s: %v", shown, err))}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, nil, &retryAfter{msg: f.redact(fmt.Sprintf("%s: read body: %v", shown, err))}
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		return nil, nil, &retryAfter{msg: fmt.Sprintf("%s: HTTP %d", shown, resp.StatusCode), d: parseRetryAfter(resp.Header.Get("Retry-After"))}
	case resp.StatusCode >= 500:
		return nil, nil, &retryAfter{msg: fmt.Sprintf("%s: HTTP %d; body starts %q", shown, resp.StatusCode, sample(body))}
	case resp.StatusCode >= 300:
		return nil, nil, &apiError{url: shown, status: resp.StatusCode, msg: "not retried (check the URL, params and credentials)", sample: f.redact(sample(body))}
	}
	return body, resp.Header, nil
}

// parseRetryAfter reads seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second, 10*time.Minute)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), 10*time.Minute)
	}
	return 0
}
