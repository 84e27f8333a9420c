package typedoc

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated table in docs/types.md")

// TestTypesDoc keeps docs/types.md's type table equal to the mappings the
// code uses (the document is the golden file).
func TestTypesDoc(t *testing.T) {
	const path = "../../docs/types.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, Begin), strings.Index(s, End)
	if i < 0 || j < i {
		t.Fatalf("%s has no generated type table (markers %q … %q)", path, Begin, End)
	}
	got, want := s[i:j+len(End)], Table()
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(s[:i]+want+s[j+len(End):]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("docs/types.md's type table is stale; run go test ./internal/typedoc -update. Want:\n%s", want)
}
