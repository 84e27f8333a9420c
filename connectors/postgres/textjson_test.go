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
		{change.TimestampTZ, "", "2026-01-02 03:04:05+05:30", `"2026-01-02T03:04:05+05:30"`},
		{change.TimestampTZ, "", "2026-01-02 03:04:05+05", `"2026-01-02T03:04:05+05:00"`},
		{change.Date, "", "infinity", `"infinity"`},
		{change.Date, "", "-infinity", `"-infinity"`},
		{change.Date, "", "0044-03-15 BC", `"-0043-03-15"`},
		{change.Date, "", "0001-01-01 BC", `"0000-01-01"`},
		{change.Date, "", "4713-11-24 BC", `"-4712-11-24"`},
		{change.Date, "", "5874897-12-31", `"5874897-12-31"`},
		{change.Timestamp, "", "0044-03-15 12:00:00.000001 BC", `"-0043-03-15T12:00:00.000001"`},
		{change.TimestampTZ, "", "0044-03-15 12:00:00+00 BC", `"-0043-03-15T12:00:00Z"`},
		{change.TimestampTZ, "", "294276-12-31 23:59:59.999999+00", `"294276-12-31T23:59:59.999999Z"`},
		{change.TimestampTZ, "", "-infinity", `"-infinity"`},
		{change.Bytes, "", `0101000020E6100000000000000000F03F0000000000000040`, `"AQEAACDmEAAAAAAAAAAA8D8AAAAAAAAAQA=="`},
		{change.Array, change.Int32, "{{1,2},{3,NULL}}", "[1,2,3,null]"},
		{change.Array, change.Int32, "[0:1]={1,2}", "[1,2]"},
		{change.Array, change.Int32, "{{}}", "[]"},
		{change.Array, change.String, `{"(1,\"a b\",)",NULL}`, `["(1,\"a b\",)",null]`},
		{change.Array, change.Date, `{infinity,"0044-03-15 BC"}`, `["infinity","-0043-03-15"]`},
		{change.Bytes, "", `\x00ff10`, `"AP8Q"`},
		{change.Array, change.Int32, "{1,NULL,-3}", "[1,null,-3]"},
		{change.Array, change.String, `{"a b",NULL,"q\"x","c,d",plain}`, `["a b",null,"q\"x","c,d","plain"]`},
		{change.Array, change.String, `{}`, `[]`},
		{change.Array, change.Bool, `{t,f}`, `[true,false]`},
	} {
		got, err := appendJSON(nil, &change.Column{Kind: tc.kind, Elem: tc.elem}, []byte(tc.in))
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
		{change.Array, change.Int32, "1,2"},
		{change.Date, "", "yesterday"},
	} {
		if _, err := appendJSON(nil, &change.Column{Kind: bad.kind, Elem: bad.elem}, []byte(bad.in)); err == nil {
			t.Errorf("%s %q: no error", bad.kind, bad.in)
		}
	}
}

func TestArrayDelimiters(t *testing.T) {
	for _, tc := range []struct{ typ, in, want string }{
		{"box[]", "{(1,1),(0,0);(3,3),(2,2)}", `["(1,1),(0,0)","(3,3),(2,2)"]`},
		{"point[]", `{"(1,2)","(3,4)"}`, `["(1,2)","(3,4)"]`},
	} {
		got, err := appendJSON(nil, &change.Column{Kind: change.Array, Elem: change.String, SourceType: tc.typ}, []byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("%s %s = %s, %v; want %s", tc.typ, tc.in, got, err, tc.want)
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
		out, err := appendArray(nil, change.String, ',', []byte(in))
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
