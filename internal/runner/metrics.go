package runner

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var brokerTrimmed = promauto.NewCounter(prometheus.CounterOpts{
	Name: "inlet_embedded_broker_deleted_records_total",
	Help: "Records the embedded broker deleted because every sink committed them and they are older than kafka.retention.",
})

var escalatedIncidents = promauto.NewGauge(prometheus.GaugeOpts{
	Name: "inlet_incidents_escalated",
	Help: "Incidents open longer than incidents.escalate_after.",
})
