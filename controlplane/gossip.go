package controlplane

import (
	"context"
	"slices"
	"time"

	"touchpoint.dev/touchpoint/controlplane/fleet"
	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// rejoinEvery is how often a node joins the registered gossip addresses of
// servers and agents that are not current members: memberlist never
// reconnects by itself to a member it declared dead.
const rejoinEvery = 15 * time.Second

// registerEvery is how often the leader compares the addresses gossip
// reports with the registries.
const registerEvery = 5 * time.Second

// GossipAgents is the gossip pool's view of the agents alone (without what
// sessions add; LiveAgents merges both).
func (s *Server) GossipAgents() map[string]api.FleetAgent {
	f := s.fleet.Load()
	if f == nil {
		return nil
	}
	out := map[string]api.FleetAgent{}
	for id, st := range f.Agents() {
		a := api.FleetAgent{ID: id, Status: st.Status, ConfigIndex: st.Meta.ConfigIndex, AppliedIndex: st.Meta.ConfigIndex, OutboxBacklog: st.Meta.OutboxBacklog,
			DiskLow: st.Meta.DiskLow, Version: st.Meta.Version, LastSeen: st.LastSeen, GossipAddr: st.Addr}
		if st.Status == api.AgentAlive {
			// The node the agent says holds its session (another node's,
			// or this one's until LiveAgents sees it); a suspect or dead
			// agent's last word is not taken for a session.
			a.Session = st.Meta.Session
		}
		out[id] = a
	}
	return out
}

func (s *Server) gossipMeta() []byte {
	b, err := protocol.GossipMeta{Role: protocol.GossipRoleServer, ID: s.cfg.ID, Version: s.cfg.Version,
		QUICAddr: s.QUICAddr(), HTTPAddr: s.httpAddr, DiskLow: s.diskLow.Load()}.Encode()
	if err != nil {
		s.log.Error("gossip metadata", "error", err)
	}
	return b
}

// runGossip joins the gossip pool once the cluster's keyring has reached
// this node, then keeps the keyring current, rejoins registered members,
// and (on the leader) registers the gossip addresses the pool reports.
func (s *Server) runGossip(ctx context.Context) {
	var keys [][]byte
	for {
		k, err := s.store.FSM().GossipKeys()
		if err == nil && len(k) > 0 {
			keys = k
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-s.store.FSM().Changed():
		case <-time.After(time.Second):
		}
	}
	f, err := fleet.New(fleet.Config{NodeID: s.cfg.ID, BindAddr: s.cfg.GossipAddr, AdvertiseAddr: s.cfg.GossipAdvertise,
		Keys: keys, Meta: s.gossipMeta, Logger: s.log, Now: s.cfg.Now,
		ProbeInterval: s.cfg.GossipTiming.ProbeInterval, ProbeTimeout: s.cfg.GossipTiming.ProbeTimeout,
		GossipInterval: s.cfg.GossipTiming.GossipInterval, SuspicionMult: s.cfg.GossipTiming.SuspicionMult,
		SuspectAfter: s.cfg.GossipTiming.SuspectAfter})
	if err != nil {
		s.log.Error("gossip disabled: cannot start", "addr", s.cfg.GossipAddr, "error", err)
		return
	}
	s.fleet.Store(f)
	s.log.Info("gossip started", "addr", f.Addr())
	defer func() {
		if !s.killed.Load() {
			_ = f.Leave(time.Second)
		}
		_ = f.Shutdown()
	}()
	fleetGen := s.store.FSM().FleetGeneration()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastRejoin, lastRegister time.Time
	for {
		if gen := s.store.FSM().FleetGeneration(); gen != fleetGen {
			fleetGen = gen
			if k, err := s.store.FSM().GossipKeys(); err == nil && len(k) > 0 && !slices.EqualFunc(k, keys, func(a, b []byte) bool { return string(a) == string(b) }) {
				if err := f.SetKeys(k); err != nil {
					s.log.Warn("install gossip keys", "error", err)
				} else {
					keys = k
					s.log.Info("gossip keyring updated", "keys", len(k))
				}
			}
		}
		if time.Since(lastRejoin) >= rejoinEvery {
			lastRejoin = time.Now()
			f.Rejoin(s.registeredGossipAddrs(f.Addr()))
		}
		// Reading the registry costs a decode per agent: every few seconds
		// is enough, and never on every apply (event ingest applies
		// thousands of entries a second).
		if s.store.IsLeader() && time.Since(lastRegister) >= registerEvery {
			lastRegister = time.Now()
			s.registerGossipAddrs(ctx, f)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-tick.C:
		}
	}
}

// registeredGossipAddrs lists the gossip addresses kept in Raft: every
// node's and every enrolled, unrevoked agent's, but this node's own.
func (s *Server) registeredGossipAddrs(self string) []string {
	var out []string
	if nodes, err := s.store.FSM().Nodes(); err == nil {
		for _, n := range nodes {
			if n.GossipAddr != "" && n.GossipAddr != self {
				out = append(out, n.GossipAddr)
			}
		}
	}
	if agents, err := s.store.FSM().Agents(); err == nil {
		for _, a := range agents {
			if a.GossipAddr != "" && !a.Revoked {
				out = append(out, a.GossipAddr)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// registerGossipAddrs (leader) writes the gateway and gossip addresses the
// pool reports for servers into the node registry, and agents' gossip
// addresses into the fleet registry, when they differ: a member restarted
// on new ports is found again.
func (s *Server) registerGossipAddrs(ctx context.Context, f *fleet.Fleet) {
	if agents, err := s.store.FSM().Agents(); err == nil {
		live := f.Agents()
		for _, a := range agents {
			st, ok := live[a.ID]
			if !ok || a.Revoked || st.Status != api.AgentAlive || st.Addr == "" || st.Addr == a.GossipAddr {
				continue
			}
			if _, err := s.applyLocal(ctx, fsm.CmdAgentGossip, fsm.AgentGossip{AgentID: a.ID, GossipAddr: st.Addr}); err != nil {
				s.log.Warn("register agent gossip address", "agent", a.ID, "error", err)
			}
		}
	}
	nodes, err := s.store.FSM().Nodes()
	if err != nil {
		return
	}
	for id, st := range f.Servers() {
		n, ok := nodes[id]
		if !ok || st.Status != api.AgentAlive {
			continue // only registered nodes: gossip does not admit members
		}
		want := n
		want.GossipAddr = st.Addr
		if st.Meta.QUICAddr != "" {
			want.QUICAddr = st.Meta.QUICAddr
		}
		if want == n {
			continue
		}
		if _, err := s.applyLocal(ctx, fsm.CmdNodeRegister, want); err != nil {
			s.log.Warn("register gossip address", "node", id, "error", err)
		}
	}
}
