package config

import (
	"strings"
	"testing"
)

func TestValidateSummaries(t *testing.T) {
	base := `pipeline: shop
sources:
  - name: pg
    postgres:
      dsn: "postgres://u@h/db"
      tables:
        - public.orders
        - name: public.rates
          mode: full_refresh
          interval: 1h
clickhouse:
  addr: "127.0.0.1:9000"
  database: shop
  summaries:
`
	for _, tc := range []struct {
		name, yaml string
		want       []string // substrings of the error; none: valid
	}{
		{"valid", `    - name: orders_daily
      from: public.orders
      dimensions: ["toDate(created_at) AS day", status]
      measures: ["count() AS orders"]
      partition_by: day
`, nil},
		{"full refresh table defaults to full", `    - name: rates_by_ccy
      from: public.rates
      dimensions: [ccy]
      measures: ["avg(rate) AS rate"]
`, nil},
		{"every problem", `    - name: _inlet_x
      from: public.nope
      dimensions: ["toDate(created_at)"]
      measures: ["sum(amount)", "count() AS n", "max(x) AS n"]
      partition_by: month
      refresh: sometimes
      on_check_failure: ignore
`, []string{
			`summaries[0].name: "_inlet_x" must be`,
			`summaries[0].from: public.nope is not captured`,
			`dimensions[0]: "toDate(created_at)" has no name`,
			`measures[0]: "sum(amount)" needs an aggregate and a name`,
			`measures[2]: "n" is used twice`,
			`partition_by: "month" is not one of the summary's dimensions`,
			`refresh: "sometimes": use incremental or full`,
			`on_check_failure: "ignore": use warn or stop`,
		}},
		{"incremental over a full_refresh table", `    - name: r
      from: public.rates
      dimensions: [ccy]
      measures: ["count() AS n"]
      refresh: incremental
`, []string{"public.rates is a full_refresh table"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("p.yaml", []byte(base+tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected errors:\n%v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if !strings.Contains(err.Error(), "p.yaml:") {
				t.Errorf("errors do not name the file and line:\n%v", err)
			}
		})
	}
}
