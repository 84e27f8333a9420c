package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestReferenceListsEveryKey keeps docs/config.md in step with the structs.
func TestReferenceListsEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			if typ.Kind() == reflect.Slice {
				prefix += "[]"
			}
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ.Name() == "Duration" {
			return
		}
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			key := tag
			if prefix != "" {
				key = prefix + "." + tag
			}
			if !strings.Contains(string(doc), "`"+key+"`") {
				t.Errorf("docs/config.md does not document `%s`", key)
			}
			walk(key, f.Type)
		}
	}
	walk("", reflect.TypeOf(Config{}))
}
