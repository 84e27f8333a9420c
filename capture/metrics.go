package capture

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	recordsCommitted = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "inlet_source_records_committed_total", Help: "Change records committed to Kafka, with the source position.",
	}, []string{"source"})
	txnsCommitted = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "inlet_source_kafka_transactions_total", Help: "Kafka transactions committed by the source.",
	}, []string{"source"})
	reconnects = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "inlet_source_reconnects_total", Help: "Failed source sessions (a lost connection to the source or to Kafka) and failed attempts to reconnect.",
	}, []string{"source"})
	streaming = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "inlet_source_streaming", Help: "1 while the source is connected and streaming, 0 while it reconnects or has stopped.",
	}, []string{"source"})
)
