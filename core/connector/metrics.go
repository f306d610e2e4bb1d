package connector

import "github.com/prometheus/client_golang/prometheus"

var (
	upDesc = prometheus.NewDesc("neksio_connector_up",
		"1 while the connector's plugin process is running and healthy, 0 while it is down or restarting.",
		[]string{"connector"}, nil)
	restartsDesc = prometheus.NewDesc("neksio_connector_restarts_total",
		"Times the connector's plugin was brought back after it died or failed its health check.",
		[]string{"connector"}, nil)
)

// Collector is a Prometheus collector of the Manager's plugins, read
// from List when scraped: neksio_connector_up and
// neksio_connector_restarts_total, labelled by connector name (the
// registered and discovered plugins: a bounded set).
func (m *Manager) Collector() prometheus.Collector { return managerCollector{m} }

type managerCollector struct{ m *Manager }

func (c managerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- upDesc
	ch <- restartsDesc
}

func (c managerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, in := range c.m.List() {
		up := 0.0
		if in.Healthy {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up, in.Name)
		ch <- prometheus.MustNewConstMetric(restartsDesc, prometheus.CounterValue, float64(in.Restarts), in.Name)
	}
}
