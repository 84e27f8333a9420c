package verify

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// Value kinds: how a column is read from each system and rendered to one
// comparable form. They follow the type rules of docs/envelope.md.
const (
	kInt   = "int"   // int2, int4, int8
	kNum   = "num"   // numeric: exact decimal, trailing zeros dropped
	kF4    = "f4"    // real: shortest float32 form
	kF8    = "f8"    // double precision
	kBool  = "bool"  // ClickHouse before 21.12 stores UInt8
	kDate  = "date"  // 2006-01-02
	kTS    = "ts"    // timestamp: microseconds, or seconds on a ClickHouse without DateTime64
	kTSTZ  = "tstz"  // timestamptz, in UTC, as ts
	kUUID  = "uuid"  // canonical text
	kBytea = "bytea" // hex
	kArr   = "arr"   // JSON array; ClickHouse has no Nullable(Array): NULL reads as []
	kStr   = "str"   // text, varchar, char: read as is (char's ::text drops its padding)
	kText  = "text"  // everything else, as Postgres' text form (json, enums, text_columns)
)

// target is the system a Postgres value is compared with; it decides the
// rules where the systems legitimately differ.
type target struct {
	secondsOnly bool // ClickHouse without DateTime64 keeps whole seconds
	nullArrayIs bool // a NULL array reads back as [] (ClickHouse)
}

// norm renders a value from Postgres, ClickHouse or the lake in one form.
func norm(kind string, v any, tg target) string {
	rv := reflect.ValueOf(v)
	for rv.IsValid() && (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface) {
		if rv.IsNil() {
			rv = reflect.Value{}
			break
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		if kind == kArr && tg.nullArrayIs {
			return "[]"
		}
		return "NULL"
	}
	v = rv.Interface()
	switch kind {
	case kInt:
		return fmt.Sprint(v)
	case kNum:
		switch x := v.(type) {
		case decimal.Decimal:
			return x.String()
		case string:
			d, err := decimal.NewFromString(x)
			if err != nil {
				return x // NaN, Infinity
			}
			return d.String()
		}
	case kF4:
		switch x := v.(type) {
		case float32:
			return strconv.FormatFloat(float64(x), 'g', -1, 32)
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 32)
		}
	case kF8:
		if x, ok := v.(float64); ok {
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
	case kBool:
		switch x := v.(type) {
		case bool:
			return strconv.FormatBool(x)
		case uint8:
			return strconv.FormatBool(x == 1)
		}
	case kDate:
		if t, ok := v.(time.Time); ok {
			return t.Format("2006-01-02")
		}
	case kTS, kTSTZ:
		if t, ok := v.(time.Time); ok {
			t = t.UTC()
			if tg.secondsOnly {
				return t.Truncate(time.Second).Format("2006-01-02 15:04:05")
			}
			return t.Format("2006-01-02 15:04:05.000000")
		}
	case kUUID:
		switch x := v.(type) {
		case uuid.UUID:
			return x.String()
		case [16]byte:
			return uuid.UUID(x).String()
		case string:
			return strings.ToLower(x)
		}
	case kBytea:
		switch x := v.(type) {
		case []byte:
			return hex.EncodeToString(x)
		case string:
			return hex.EncodeToString([]byte(x))
		}
	case kText, kStr:
		switch x := v.(type) {
		case string:
			return x
		case []byte:
			return string(x)
		}
		return fmt.Sprint(v)
	case kArr:
		if s, ok := v.(string); ok { // Postgres to_json(...)::text
			return s
		}
		if rv.Kind() != reflect.Slice {
			break
		}
		items := make([]any, rv.Len())
		for i := range items {
			iv := reflect.ValueOf(rv.Index(i).Interface())
			for iv.IsValid() && iv.Kind() == reflect.Pointer {
				if iv.IsNil() {
					iv = reflect.Value{}
					break
				}
				iv = iv.Elem()
			}
			if iv.IsValid() {
				items[i] = iv.Interface()
			}
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(items)
		return strings.TrimSpace(b.String())
	}
	return fmt.Sprintf("?%T:%v", v, v)
}

// kindOf maps a Postgres type to a value kind.
func kindOf(typname, category string) string {
	if category == "A" {
		return kArr
	}
	switch typname {
	case "int2", "int4", "int8":
		return kInt
	case "numeric":
		return kNum
	case "float4":
		return kF4
	case "float8":
		return kF8
	case "bool":
		return kBool
	case "date":
		return kDate
	case "timestamp":
		return kTS
	case "timestamptz":
		return kTSTZ
	case "uuid":
		return kUUID
	case "bytea":
		return kBytea
	case "text", "varchar", "bpchar", "name":
		return kStr
	}
	return kText
}

// pgExpr is how a column is selected from Postgres so norm can read it.
func pgExpr(name, kind string) string {
	q := `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
	switch kind {
	case kNum, kUUID, kText:
		return q + "::text"
	case kArr:
		return "to_json(" + q + ")::text"
	}
	return q
}
