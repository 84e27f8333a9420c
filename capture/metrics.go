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
)
