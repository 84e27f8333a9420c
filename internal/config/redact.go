package config

import (
	"context"
	"log/slog"
	"strings"
)

// RedactHandler wraps h so that no secret of the config (see Redact)
// reaches a log record: the message and every string, error and
// Stringer attribute are redacted.
func (c *Config) RedactHandler(h slog.Handler) slog.Handler {
	return &redactHandler{c: c, h: h}
}

type redactHandler struct {
	c *Config
	h slog.Handler
}

func (r *redactHandler) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

func (r *redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	if len(r.c.secrets) == 0 {
		return r.h.Handle(ctx, rec)
	}
	out := slog.NewRecord(rec.Time, rec.Level, r.c.Redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(r.attr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

func (r *redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = r.attr(a)
	}
	return &redactHandler{c: r.c, h: r.h.WithAttrs(red)}
}

func (r *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{c: r.c, h: r.h.WithGroup(name)}
}

func (r *redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, r.c.Redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, ga := range g {
			red[i] = r.attr(ga)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, r.c.Redact(x.Error()))
		case interface{ String() string }:
			return slog.String(a.Key, r.c.Redact(x.String()))
		case []string:
			red := make([]string, len(x))
			for i, s := range x {
				red[i] = r.c.Redact(s)
			}
			return slog.Any(a.Key, red)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// Redact replaces every value substituted from the environment (${...})
// in s with ***, so secrets never reach logs, errors or status.
func (c *Config) Redact(s string) string {
	for _, v := range c.secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "***")
		}
	}
	return s
}
