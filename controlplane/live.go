package controlplane

import (
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"touchpoint.dev/touchpoint/protocol/api"
)

// LiveAgents is the node's live view of the fleet: gossip first (the whole
// pool's view of liveness and the agents' own reports), then the sessions
// this node holds (fresher reports; the only source for an agent gossip
// has not seen).
func (s *Server) LiveAgents() map[string]api.FleetAgent {
	out := map[string]api.FleetAgent{}
	for id, a := range s.GossipAgents() {
		out[id] = a
	}
	if s.gw != nil {
		for id, si := range s.gw.Sessions() {
			a, known := out[id]
			if !known {
				a = api.FleetAgent{ID: id, Status: api.AgentAlive}
			}
			a.Session = s.cfg.ID
			// An agent reporting on its session right now is alive,
			// whatever gossip still thinks (a restarted agent that
			// gossip has not taken back yet).
			if a.Status != api.AgentAlive && s.cfg.Now().Sub(si.LastSeen) < freshSession {
				a.Status = api.AgentAlive
			}
			a.ConfigIndex = max(a.ConfigIndex, si.ConfigIndex)
			a.AppliedIndex = max(a.AppliedIndex, si.AppliedIndex)
			a.OutboxBacklog = si.OutboxBacklog
			if si.Version != "" {
				a.Version = si.Version
			}
			if si.LastSeen.After(a.LastSeen) {
				a.LastSeen = si.LastSeen
			}
			out[id] = a
		}
	}
	return out
}

// freshSession is how recent a session's last report must be to count as
// proof of life (agents report every 2 s).
const freshSession = 5 * time.Second

// ready: the node serves once it has a leader and has applied the cluster's
// initialisation.
func (s *Server) ready() error {
	if id, _ := s.store.Leader(); id == "" {
		return errors.New("no leader")
	}
	ci, err := s.store.FSM().Cluster()
	if err != nil {
		return err
	}
	if ci.ClusterID == "" {
		return errors.New("the cluster is not initialised on this node yet")
	}
	return nil
}

// metricsHandler exposes the node's Prometheus metrics (a registry per
// node: tests run several in one process).
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gauge := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "touchpoint", Subsystem: "controlplane", Name: name, Help: help}, f))
	}
	counter := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "touchpoint", Subsystem: "controlplane", Name: name, Help: help}, f))
	}
	gauge("raft_leader", "1 while this node is the Raft leader.", func() float64 {
		if s.store.IsLeader() {
			return 1
		}
		return 0
	})
	gauge("raft_applied_index", "Index of the last entry applied to the state.", func() float64 {
		_, _, _, applied := s.store.Indexes()
		return float64(applied)
	})
	gauge("raft_commit_index", "Raft commit index as this node knows it.", func() float64 {
		_, _, commit, _ := s.store.Indexes()
		return float64(commit)
	})
	gauge("raft_term", "Current Raft term.", func() float64 {
		term, _, _, _ := s.store.Indexes()
		return float64(term)
	})
	gauge("config_index", "Index of the newest configuration change (the change feed's head).", func() float64 {
		return float64(s.store.FSM().LastChange())
	})
	gauge("disk_free_bytes", "Free bytes of the data directory's file system (available to unprivileged users).", func() float64 {
		free, _ := s.disk.Free()
		return float64(free)
	})
	gauge("disk_low", "1 while the data directory has less free space than --min-free-disk-mb: the cluster refuses writes.", func() float64 {
		if s.diskLow.Load() {
			return 1
		}
		return 0
	})
	if gw := s.gw; gw != nil {
		m := gw.M()
		gauge("agent_sessions", "Agent sessions this node holds.", func() float64 { return float64(m.Sessions.Load()) })
		counter("events_committed_total", "Contact events this node committed through Raft as leader.", func() float64 { return float64(m.EventsCommitted.Load()) })
		counter("events_forwarded_total", "Contact events this node forwarded to the leader.", func() float64 { return float64(m.EventsForwarded.Load()) })
		counter("event_batches_total", "Event batches acknowledged to agents.", func() float64 { return float64(m.Batches.Load()) })
		counter("event_batch_errors_total", "Event batches refused or failed.", func() float64 { return float64(m.BatchErrors.Load()) })
		counter("enrollments_total", "Agents enrolled through this node.", func() float64 { return float64(m.Enrollments.Load()) })
		counter("enrollments_refused_total", "Enrollments refused (bad, spent or expired tokens, bad requests).", func() float64 { return float64(m.EnrollRefused.Load()) })
		counter("connections_refused_total", "Connections refused (revoked or unknown certificates).", func() float64 { return float64(m.ConnsRefused.Load()) })
		counter("changes_pushed_total", "Configuration frames pushed to agents.", func() float64 { return float64(m.ChangesPushed.Load()) })
		counter("contacts_pushed_total", "Contacts frames (committed contact events) pushed to agents.", func() float64 { return float64(m.ContactsPushed.Load()) })
		counter("profiles_served_total", "Customer profiles sent to agents (fetches and prefetches).", func() float64 { return float64(m.ProfilesServed.Load()) })
		reg.MustRegister(sessionCollector{s})
	}
	reg.MustRegister(raftCollector{s})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// raftCollector reports the node's Raft state, its last contact with the
// leader, the voters, and the agents this node sees by status (computed at
// scrape time).
type raftCollector struct{ s *Server }

var (
	descRaftState = prometheus.NewDesc("touchpoint_controlplane_raft_state",
		"1 for this node's Raft state (leader, follower, candidate, shutdown).", []string{"state"}, nil)
	descLastContact = prometheus.NewDesc("touchpoint_controlplane_raft_last_contact_seconds",
		"Seconds since a follower last heard from the leader (0 on the leader; absent before the first contact).", nil, nil)
	descVoters = prometheus.NewDesc("touchpoint_controlplane_raft_voters",
		"Voters in this node's Raft configuration.", nil, nil)
	descAgents = prometheus.NewDesc("touchpoint_controlplane_agents",
		"Agents this node sees (gossip and its sessions), by status: alive, suspect, dead, left.", []string{"status"}, nil)
)

func (c raftCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRaftState
	ch <- descLastContact
	ch <- descVoters
	ch <- descAgents
}

func (c raftCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.store.State()
	for _, s := range []string{"leader", "follower", "candidate", "shutdown"} {
		v := 0.0
		if s == st {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descRaftState, prometheus.GaugeValue, v, s)
	}
	switch lc := c.s.store.Stats()["last_contact"]; {
	case st == "leader":
		ch <- prometheus.MustNewConstMetric(descLastContact, prometheus.GaugeValue, 0)
	case lc != "" && lc != "never":
		if d, err := time.ParseDuration(lc); err == nil {
			ch <- prometheus.MustNewConstMetric(descLastContact, prometheus.GaugeValue, d.Seconds())
		} else if lc == "0" {
			ch <- prometheus.MustNewConstMetric(descLastContact, prometheus.GaugeValue, 0)
		}
	}
	if servers, err := c.s.store.Servers(); err == nil {
		voters := 0
		for _, sv := range servers {
			if sv.Suffrage == "Voter" {
				voters++
			}
		}
		ch <- prometheus.MustNewConstMetric(descVoters, prometheus.GaugeValue, float64(voters))
	}
	by := map[string]int{api.AgentAlive: 0, api.AgentSuspect: 0, api.AgentDead: 0, api.AgentLeft: 0}
	for _, a := range c.s.LiveAgents() {
		by[a.Status]++
	}
	for status, n := range by {
		ch <- prometheus.MustNewConstMetric(descAgents, prometheus.GaugeValue, float64(n), status)
	}
}

// sessionCollector reports, per agent session this node holds, the
// agent's configuration lag and outbox backlog (computed at scrape time).
type sessionCollector struct{ s *Server }

var (
	descAgentLag = prometheus.NewDesc("touchpoint_controlplane_agent_config_lag",
		"Raft indexes the newest configuration change is ahead of the agent's copy (0: up to date), per agent session on this node.",
		[]string{"agent"}, nil)
	descAgentBacklog = prometheus.NewDesc("touchpoint_controlplane_agent_outbox_backlog",
		"Contact events the agent reported not yet acknowledged, per agent session on this node.",
		[]string{"agent"}, nil)
)

func (c sessionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descAgentLag
	ch <- descAgentBacklog
}

func (c sessionCollector) Collect(ch chan<- prometheus.Metric) {
	head := c.s.store.FSM().LastChange()
	for id, si := range c.s.gw.Sessions() {
		lag := uint64(0)
		if head > si.ConfigIndex {
			lag = head - si.ConfigIndex
		}
		ch <- prometheus.MustNewConstMetric(descAgentLag, prometheus.GaugeValue, float64(lag), id)
		ch <- prometheus.MustNewConstMetric(descAgentBacklog, prometheus.GaugeValue, float64(si.OutboxBacklog), id)
	}
}
