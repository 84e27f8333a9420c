package change

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendJSONString(t *testing.T) {
	for in, want := range map[string]string{
		"":                          `""`,
		"plain text, long enough":   `"plain text, long enough"`,
		`a "quoted" \ back`:         `"a \"quoted\" \\ back"`,
		"tab\there\nnewline\x01x":   `"tab\there\nnewline\u0001x"`,
		"0123456789abcdef\x7f end":  "\"0123456789abcdef\x7f end\"",
		"héllo wörld, 8 bytes+":     `"héllo wörld, 8 bytes+"`,
		"bad \xff utf8 in the tail": `"bad \ufffd utf8 in the tail"`,
	} {
		if got := string(AppendJSONString(nil, in)); got != want {
			t.Errorf("%q: got %s, want %s", in, got, want)
		}
	}
}

// FuzzAppendJSONString: any bytes become a valid JSON string that decodes
// to the input (invalid UTF-8 aside), for both instantiations.
func FuzzAppendJSONString(f *testing.F) {
	f.Add([]byte("plain"))
	f.Add([]byte("\"\\\x00\xff\u2028 and more than eight bytes \x1f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out := AppendJSONString(nil, b)
		if string(out) != string(AppendJSONString(nil, string(b))) {
			t.Fatalf("%q: []byte and string encodings differ", b)
		}
		var s string
		if err := json.Unmarshal(out, &s); err != nil {
			t.Fatalf("%q -> %s: %v", b, out, err)
		}
		if utf8.Valid(b) && s != string(b) {
			t.Fatalf("%q -> %s decodes to %q", b, out, s)
		}
		if !utf8.Valid(b) && !strings.ContainsRune(s, utf8.RuneError) {
			t.Fatalf("%q: invalid UTF-8 not replaced: %q", b, s)
		}
	})
}
