package check

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/inlet-dev/inlet/internal/config"
)

// http checks one HTTP source with one GET of its URL, with its headers
// and params. Secrets (header values, ${ENV} values) never reach the
// report.
func (ck *checker) http(ctx context.Context, i int, s *config.Source) *Group {
	g := &Group{Component: fmt.Sprintf("source %s (http)", s.Name)}
	h := s.HTTP
	p := fmt.Sprintf("sources[%d].http", i)
	// Header and param values may be keys: none is shown, nor any value
	// substituted from the environment.
	var hidden []string
	for _, v := range h.Headers {
		hidden = append(hidden, v)
	}
	for _, v := range h.Params {
		hidden = append(hidden, v, url.QueryEscape(v))
	}
	redact := func(msg string) string {
		for _, v := range hidden {
			if len(v) >= 4 {
				msg = strings.ReplaceAll(msg, v, "***")
			}
		}
		return ck.cfg.Redact(msg)
	}
	u, err := url.Parse(h.URL)
	if err != nil {
		g.fail("GET", redact(err.Error()), "fix "+ck.at(p+".url"))
		return g
	}
	shown := redact(u.Redacted())
	q := u.Query()
	for k, v := range h.Params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	timeout := ck.opt.Timeout
	if t := time.Duration(h.Timeout); t > 0 && t < timeout {
		timeout = t
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u.String(), nil)
	if err != nil {
		g.fail("GET", redact(err.Error()), "fix "+ck.at(p+".url"))
		return g
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "inlet")
	for k, v := range h.Headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.fail("GET "+shown, redact(err.Error()), "check "+ck.at(p+".url")+", and that this machine reaches the API (DNS, proxy, firewall)")
		return g
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	g.result(verdictHTTP(resp.StatusCode, body, h.Records, shown, ck.at(p+".headers"), ck.at(p+".url"), ck.at(p+".records")))
	return g
}

// verdictHTTP judges the answer to the probe GET.
func verdictHTTP(code int, body []byte, records, shown, headersAt, urlAt, recordsAt string) Result {
	check := "GET " + shown
	status := fmt.Sprintf("HTTP %d", code)
	switch {
	case code == 401 || code == 403:
		return Result{Fail, check, status + ": the API refused the credentials",
			"check the credentials in " + headersAt + " (values are not shown; use ${ENV} for secrets)"}
	case code == 404 || code == 410:
		return Result{Fail, check, status + ": no such resource", "fix " + urlAt}
	case code == 429:
		return Result{Warn, check, status + ": rate limited right now", "set rate_limit on the source below the API's limit"}
	case code >= 500:
		return Result{Warn, check, status + ": the API fails right now; Inlet retries with backoff", "try again later, or ask the API's owner"}
	case code < 200 || code >= 300:
		return Result{Fail, check, status, "check " + urlAt + " and its params"}
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return Result{Fail, check, status + ", but the body is not JSON", "point " + urlAt + " at the JSON endpoint"}
	}
	v, ok := jsonPointer(doc, records)
	arr, isArr := v.([]any)
	if !ok || !isArr {
		hint := ""
		if m, isObj := doc.(map[string]any); isObj {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, "/"+k)
			}
			sort.Strings(keys)
			hint = " (the body has " + strings.Join(keys, ", ") + ")"
		}
		return Result{Fail, check, fmt.Sprintf("%s, but records %q finds no array of records%s", status, records, hint),
			"set " + recordsAt + " to the JSON pointer of the records array"}
	}
	return Result{OK, check, status + ", " + count(len(arr), "record") + " on the first page", ""}
}

// jsonPointer resolves an RFC 6901 pointer in a decoded document.
func jsonPointer(doc any, ptr string) (any, bool) {
	if ptr == "" {
		return doc, true
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch v := doc.(type) {
		case map[string]any:
			next, ok := v[tok]
			if !ok {
				return nil, false
			}
			doc = next
		case []any:
			n, err := strconv.Atoi(tok)
			if err != nil || n < 0 || n >= len(v) {
				return nil, false
			}
			doc = v[n]
		default:
			return nil, false
		}
	}
	return doc, true
}
