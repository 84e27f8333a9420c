package change

import (
	"testing"
	"time"
)

func TestTimeForms(t *testing.T) {
	for _, tc := range []struct {
		k    Kind
		in   string
		want time.Time
	}{
		{Date, "infinity", PosInfinity},
		{TimestampTZ, "-infinity", NegInfinity},
		{Date, "-0043-03-15", time.Date(-43, 3, 15, 0, 0, 0, 0, time.UTC)},
		{Date, "0000-02-29", time.Date(0, 2, 29, 0, 0, 0, 0, time.UTC)},
		{Date, "5874897-12-31", time.Date(5874897, 12, 31, 0, 0, 0, 0, time.UTC)},
		{Timestamp, "9999-12-31T23:59:59.999999", time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{TimestampTZ, "-4712-11-24T00:00:00Z", time.Date(-4712, 11, 24, 0, 0, 0, 0, time.UTC)},
		{TimestampTZ, "2026-01-02T03:04:05+05:30", time.Date(2026, 1, 1, 21, 34, 5, 0, time.UTC)},
	} {
		got, err := ParseTime(tc.k, tc.in)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseTime(%s, %q) = %v, %v; want %v", tc.k, tc.in, got, err, tc.want)
			continue
		}
		if tc.in[len(tc.in)-1] == ')' || len(tc.in) > 6 && tc.in[len(tc.in)-6] == '+' {
			continue // offsets are not written back
		}
		if back := string(AppendTime(nil, tc.k, got)); back != tc.in {
			t.Errorf("AppendTime(%s, %v) = %q, want %q", tc.k, got, back, tc.in)
		}
	}
	for _, bad := range []string{"0044-03-15 BC", "2023-02-29", "20-01-01", "infinite"} {
		if _, err := ParseTime(Date, bad); err == nil {
			t.Errorf("ParseTime(%q): no error", bad)
		}
	}
	if PosInfinity.UnixMicro() != 1<<63-1 || NegInfinity.UnixMicro() != -1<<63 {
		t.Errorf("infinities do not round-trip as µs: %d %d", PosInfinity.UnixMicro(), NegInfinity.UnixMicro())
	}
}

func TestRenameReserved(t *testing.T) {
	cols := []Column{{Name: "id"}, {Name: "_version"}, {Name: "_version_"}, {Name: "_deleted"}}
	RenameReserved(cols)
	want := []string{"id", "_version__", "_version_", "_deleted_"}
	for i, c := range cols {
		if c.Name != want[i] {
			t.Errorf("column %d = %q, want %q", i, c.Name, want[i])
		}
	}
	if cols[1].SourceName != "_version" || cols[0].SourceName != "" {
		t.Errorf("source names: %+v", cols)
	}
}
