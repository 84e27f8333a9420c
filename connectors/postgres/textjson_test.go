package postgres

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/inlet-dev/inlet/change"
)

func TestAppendJSON(t *testing.T) {
	for _, tc := range []struct {
		kind change.Kind
		elem change.Kind
		in   string
		want string
	}{
		{change.Int64, "", "-9223372036854775808", "-9223372036854775808"},
		{change.Decimal, "", "12345678901234567890.123456", `"12345678901234567890.123456"`},
		{change.Decimal, "", "NaN", `"NaN"`},
		{change.Float64, "", "1.5e+300", "1.5e+300"},
		{change.Float32, "", "-Infinity", `"-Infinity"`},
		{change.Bool, "", "t", "true"},
		{change.String, "", "a\"b\\c\nd\te\x01 ✓", `"a\"b\\c\nd\te\u0001 ✓"`},
		{change.String, "", "bad\xffutf8", `"bad\ufffdutf8"`},
		{change.Date, "", "2026-01-02", `"2026-01-02"`},
		{change.Timestamp, "", "2026-01-02 03:04:05.123456", `"2026-01-02T03:04:05.123456"`},
		{change.TimestampTZ, "", "2026-01-02 03:04:05.5+00", `"2026-01-02T03:04:05.5Z"`},
		{change.TimestampTZ, "", "2026-01-02 03:04:05+05:30", `"2026-01-02T03:04:05+05:30:00"`},
		{change.Bytes, "", `\x00ff10`, `"AP8Q"`},
		{change.Array, change.Int32, "{1,NULL,-3}", "[1,null,-3]"},
		{change.Array, change.String, `{"a b",NULL,"q\"x","c,d",plain}`, `["a b",null,"q\"x","c,d","plain"]`},
		{change.Array, change.String, `{}`, `[]`},
		{change.Array, change.Bool, `{t,f}`, `[true,false]`},
	} {
		got, err := appendKind(nil, tc.kind, tc.elem, []byte(tc.in))
		if err != nil {
			t.Errorf("%s %q: %v", tc.kind, tc.in, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%s %q = %s, want %s", tc.kind, tc.in, got, tc.want)
		}
	}
	for _, bad := range []struct {
		kind, elem change.Kind
		in         string
	}{
		{change.Bool, "", "yes"},
		{change.Bytes, "", "\\012"},
		{change.Array, change.Int32, "{{1,2},{3,4}}"},
		{change.Array, change.Int32, "[1:2]={1,2}"},
	} {
		if _, err := appendKind(nil, bad.kind, bad.elem, []byte(bad.in)); err == nil {
			t.Errorf("%s %q: no error", bad.kind, bad.in)
		}
	}
}

func TestCopyFields(t *testing.T) {
	for line, want := range map[string][]string{
		"1\t\\N\ta\\tb\\\\c\\nd\t\\x41\\101\t": {"1", "<nil>", "a\tb\\c\nd", "AA", ""},
		"1\tplain text\t\t2026-01-01":          {"1", "plain text", "", "2026-01-01"},
		"":                                     {""},
	} {
		fields, _ := copyFields([]byte(line), nil, nil)
		if len(fields) != len(want) {
			t.Fatalf("%q: got %d fields: %q", line, len(fields), fields)
		}
		for i, f := range fields {
			s := string(f)
			if f == nil {
				s = "<nil>"
			}
			if s != want[i] {
				t.Errorf("%q: field %d = %q, want %q", line, i, s, want[i])
			}
		}
	}
}

// FuzzAppendString: any bytes become one valid JSON string.
func FuzzAppendString(f *testing.F) {
	f.Add([]byte("plain"))
	f.Add([]byte("\"\\\x00\xff\u2028"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out := appendString(nil, b)
		var s string
		if err := json.Unmarshal(out, &s); err != nil {
			t.Fatalf("%q -> %s: %v", b, out, err)
		}
	})
}

// FuzzAppendArray: an array literal either errors or becomes valid JSON.
func FuzzAppendArray(f *testing.F) {
	f.Add(`{1,NULL,"a b","q\"x"}`)
	f.Add(`{}`)
	f.Add(`{"unterminated`)
	f.Fuzz(func(t *testing.T, in string) {
		out, err := appendArray(nil, change.String, []byte(in))
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("%q -> invalid JSON %s", in, out)
		}
	})
}

// FuzzCopyFields: the COPY text parser never panics and keeps field counts.
func FuzzCopyFields(f *testing.F) {
	f.Add([]byte("1\t\\N\tx\\ty"))
	f.Add([]byte("\\"))
	f.Fuzz(func(t *testing.T, line []byte) {
		fields, _ := copyFields(line, nil, nil)
		tabs := 0
		for _, c := range line {
			if c == '\t' {
				tabs++
			}
		}
		if len(fields) != tabs+1 {
			t.Fatalf("%q: %d fields for %d tabs", line, len(fields), tabs)
		}
		// Fields without escapes are the bytes between the tabs.
		for i, raw := range bytes.Split(line, []byte{'\t'}) {
			if bytes.IndexByte(raw, '\\') < 0 && !bytes.Equal(fields[i], raw) {
				t.Fatalf("%q: field %d = %q, want %q", line, i, fields[i], raw)
			}
		}
	})
}
