package agent

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"touchpoint.dev/touchpoint/agent/link"
	"touchpoint.dev/touchpoint/protocol/api"
)

// metrics is the agent's Prometheus registry (one per Agent: no globals).
// Gauges that mirror state are read at scrape time from the link, the cache
// and the outbox; only what happens in the API is counted here.
type metrics struct {
	reg      *prometheus.Registry
	appended prometheus.Counter
	refused  *prometheus.CounterVec
	// requestsRefused counts every refused API request; refused only
	// those of POST /v1/contacts.
	requestsRefused *prometheus.CounterVec

	decisions       prometheus.Counter
	profileFetches  *prometheus.CounterVec
	holdoutsDropped prometheus.Counter
	// holdoutsLogged: holdout contacts logged in the outbox.
	holdoutsLogged prometheus.Counter
	// holdoutsRepeated: holdouts not logged again within holdoutVisit.
	holdoutsRepeated prometheus.Counter
}

func newMetrics(a *Agent) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	const ns = "touchpoint_agent"
	m.appended = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Name: "events_appended_total",
		Help: "Contact events logged in the outbox (answered 202; holdouts are holdouts_logged_total).",
	})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "contacts_rejected_total",
		Help: "Contact requests (POST /v1/contacts) refused, by error code.",
	}, []string{"code"})
	m.requestsRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "requests_refused_total",
		Help: "API requests refused, by route and error code (a decision for an unknown customer is POST /v1/decisions, unknown_customer).",
	}, []string{"route", "code"})
	m.decisions = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Name: "decisions_total", Help: "Decisions answered.",
	})
	m.profileFetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "profile_fetches_total",
		Help: "Profiles asked of the control plane: those the cache did not hold, by result (fetched, unknown, offline, error), and held ones refreshed before a session's first decision for them (refreshed).",
	}, []string{"result"})
	m.holdoutsDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Name: "holdouts_dropped_total", Help: "Holdout contacts that could not be logged (outbox full or failing).",
	})
	m.holdoutsLogged = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Name: "holdouts_logged_total", Help: "Holdout contacts logged in the outbox (held-out decisions; events_appended_total counts the contacts clients sent).",
	})
	m.holdoutsRepeated = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: ns, Name: "holdouts_repeated_total", Help: "Held-out decisions not logged as holdout contacts because the campaign held the customer out within the hour (one visit).",
	})
	state := prometheus.NewDesc(ns+"_session_state", "1 for the link's current state (enrolling, connecting, connected, offline).", []string{"state"}, nil)
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, f)
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.appended, m.refused, m.requestsRefused, m.decisions, m.profileFetches, m.holdoutsDropped, m.holdoutsLogged, m.holdoutsRepeated,
		stateCollector{desc: state, a: a},
		gauge("config_index", "Configuration index the cache holds.", func() float64 { return float64(a.cache.Position().Index) }),
		gauge("config_ready", "1 once the cache holds a configuration.", func() float64 { return b2f(a.ready()) }),
		gauge("outbox_depth", "Contact events not yet acknowledged by the control plane.", func() float64 { return float64(a.outbox.Stats().Backlog) }),
		gauge("outbox_bytes", "Bytes of the unacknowledged events (counted against the outbox limit).", func() float64 { return float64(a.outbox.Stats().BacklogBytes) }),
		gauge("outbox_full", "1 while the outbox refuses events for lack of space.", func() float64 { return b2f(a.outbox.Stats().Full) }),
		gauge("disk_free_bytes", "Free bytes of the data directory's file system (available to unprivileged users).", func() float64 {
			free, _ := a.disk.Free()
			return float64(free)
		}),
		gauge("disk_low", "1 while the data directory has less free space than --min-free-disk-mb: contacts are refused, the cache takes no changes.", func() float64 {
			return b2f(a.disk.Check() != nil)
		}),
		counter("events_sent_total", "Contact events sent to the control plane (resends included).", func() float64 { return float64(a.link.Status().EventsSent) }),
		counter("events_acknowledged_total", "Contact events the control plane acknowledged (committed).", func() float64 { return float64(a.link.Status().EventsAcked) }),
		counter("sessions_total", "Sessions established with the control plane.", func() float64 { return float64(a.link.Status().Sessions) }),
	)
	return m
}

// rejected counts a refused request of route (the mux's pattern).
func (m *metrics) rejected(route string, code api.Code) {
	m.requestsRefused.WithLabelValues(route, string(code)).Inc()
	if route == routeContacts {
		m.refused.WithLabelValues(string(code)).Inc()
	}
}

// stateCollector exports the link's state as one series per state.
type stateCollector struct {
	desc *prometheus.Desc
	a    *Agent
}

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	cur := c.a.link.Status().State
	for _, s := range []string{link.StateEnrolling, link.StateConnecting, link.StateConnected, link.StateOffline} {
		v := 0.0
		if s == cur {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, s)
	}
}
