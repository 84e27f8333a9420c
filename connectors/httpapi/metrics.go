package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	requests = promauto.NewCounter(prometheus.CounterOpts{
		Name: "inlet_http_requests_total", Help: "HTTP requests made by HTTP API sources, retries included.",
	})
	recordsEmitted = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "inlet_http_records_total", Help: "Records emitted by HTTP API sources (after de-duplication).",
	}, []string{"source"})
	pollFailures = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "inlet_http_poll_failures_total", Help: "Polls that failed (incidents); the cursor did not advance past them.",
	}, []string{"source"})
)
