package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// pager walks the pages of one poll.
type pager struct {
	cfg    Pages
	page   int
	offset int
}

// first returns the first page's URL.
func (p *pager) first(base *url.URL, params url.Values) *url.URL {
	p.page, p.offset = 1, 0
	q := cloneValues(params)
	switch p.cfg.Type {
	case "page":
		q.Set(p.cfg.PageParam, "1")
		if p.cfg.SizeParam != "" {
			q.Set(p.cfg.SizeParam, strconv.Itoa(p.cfg.Size))
		}
	case "offset":
		q.Set(p.cfg.OffsetParam, "0")
		q.Set(p.cfg.LimitParam, strconv.Itoa(p.cfg.Size))
	}
	u := *base
	u.RawQuery = q.Encode()
	return &u
}

// next returns the URL of the page after cur, or nil after the last page.
func (p *pager) next(cur *url.URL, body []byte, hdr http.Header, n int) (*url.URL, error) {
	q := cur.Query()
	switch p.cfg.Type {
	case "page":
		if n == 0 || n < p.cfg.Size {
			return nil, nil
		}
		p.page++
		q.Set(p.cfg.PageParam, strconv.Itoa(p.page))
	case "offset":
		if n == 0 || n < p.cfg.Size {
			return nil, nil
		}
		p.offset += n
		q.Set(p.cfg.OffsetParam, strconv.Itoa(p.offset))
	case "cursor":
		raw, ok, err := pointerRaw(body, p.cfg.TokenPath)
		if err != nil {
			return nil, fmt.Errorf("next-page token at %s: %w", p.cfg.TokenPath, err)
		}
		if !ok || bytes.Equal(raw, []byte("null")) || n == 0 {
			return nil, nil
		}
		var tok string
		if raw[0] == '"' {
			json.Unmarshal(raw, &tok)
		} else {
			tok = string(raw)
		}
		if tok == "" {
			return nil, nil
		}
		q.Set(p.cfg.TokenParam, tok)
	case "link":
		next := nextLink(hdr.Values("Link"))
		if next == "" {
			return nil, nil
		}
		u, err := cur.Parse(next)
		if err != nil {
			return nil, fmt.Errorf("Link rel=next %q: %w", next, err)
		}
		return u, nil
	default:
		return nil, nil
	}
	u := *cur
	u.RawQuery = q.Encode()
	return &u, nil
}

var linkRe = regexp.MustCompile(`<([^>]*)>\s*((?:;\s*[^;,]+)*)`)

// nextLink finds the rel="next" target of RFC 8288 Link headers.
func nextLink(values []string) string {
	for _, v := range values {
		for _, m := range linkRe.FindAllStringSubmatch(v, -1) {
			for _, param := range strings.Split(m[2], ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(param), "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
					continue
				}
				for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(val), `"`)) {
					if strings.EqualFold(rel, "next") {
						return m[1]
					}
				}
			}
		}
	}
	return ""
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// pointerRaw follows an RFC 6901 JSON pointer into doc; ok is false when
// a step does not exist.
func pointerRaw(doc []byte, ptr string) (json.RawMessage, bool, error) {
	raw := json.RawMessage(bytes.TrimSpace(doc))
	if ptr == "" {
		return raw, true, nil
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch {
		case len(raw) > 0 && raw[0] == '{':
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				return nil, false, err
			}
			v, ok := m[tok]
			if !ok {
				return nil, false, nil
			}
			raw = v
		case len(raw) > 0 && raw[0] == '[':
			var a []json.RawMessage
			if err := json.Unmarshal(raw, &a); err != nil {
				return nil, false, err
			}
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(a) {
				return nil, false, nil
			}
			raw = a[i]
		default:
			return nil, false, nil
		}
	}
	return raw, true, nil
}
