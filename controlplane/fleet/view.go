package fleet

import (
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// MemberState is what this node knows of a member.
type MemberState struct {
	// Status is api.AgentAlive, api.AgentSuspect, api.AgentDead or
	// api.AgentLeft.
	//
	// memberlist v0.7.0 tracks suspicion but does not show it (Node.State
	// is shadowed by an internal field and always reads alive, in Members()
	// and in NotifyLeave alike: hashicorp/memberlist#293, #266; the fix,
	// #321, is unmerged). So suspicion is the view's own: a member whose
	// metadata carries a heartbeat (agents gossip a new beat every
	// protocol.GossipBeatInterval) and that has not been heard for
	// SuspectAfter is suspect while memberlist still lists it, and dead
	// once memberlist declares it so.
	Status string
	// Meta is the last metadata the member gossiped (kept after it died).
	Meta protocol.GossipMeta
	// LastSeen is the last time it was heard: its last heartbeat for a
	// member that heartbeats; for others, refreshed on each event and every
	// pollInterval while memberlist lists it.
	LastSeen time.Time
	// Addr is the host:port it gossips on.
	Addr string
}

// AgentState is an agent's state in the view.
type AgentState = MemberState

// ServerState is a control-plane node's state in the view.
type ServerState = MemberState

// Agents is the view of agents, by agent id.
func (f *Fleet) Agents() map[string]AgentState {
	return f.view.byRole(protocol.GossipRoleAgent)
}

// Servers is the view of control-plane nodes (this one included), by id.
func (f *Fleet) Servers() map[string]ServerState {
	return f.view.byRole(protocol.GossipRoleServer)
}

// pollInterval is how often LastSeen is refreshed and old members dropped.
const pollInterval = 250 * time.Millisecond

func (f *Fleet) poll() {
	defer f.polled.Done()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		names := map[string]bool{}
		for _, n := range f.ml.Members() {
			names[n.Name] = true // a node's name never changes: safe to read
		}
		f.view.tick(names)
	}
}

// view is the member table, kept from memberlist's events. memberlist's
// Members() hands out pointers to nodes it rewrites under its own lock, so
// their metadata and address cannot be read safely; events are called
// under that lock, and copied here.
type view struct {
	now     func() time.Time
	retain  time.Duration
	suspect time.Duration

	mu      sync.Mutex
	entries map[string]*entry // by memberlist name
}

type entry struct {
	role, id string
	st       MemberState
	leaving  bool      // its metadata went empty: it is leaving
	gone     time.Time // when it died or left
	heard    time.Time // its last join or metadata update
}

func newView(now func() time.Time, retain, suspect time.Duration) *view {
	return &view{now: now, retain: retain, suspect: suspect, entries: map[string]*entry{}}
}

// memberlist.EventDelegate. Never call into memberlist from these: they run
// under its node lock.

func (v *view) NotifyJoin(n *memberlist.Node)   { v.alive(n) }
func (v *view) NotifyUpdate(n *memberlist.Node) { v.alive(n) }

func (v *view) alive(n *memberlist.Node) {
	role, id, ok := protocol.ParseGossipName(n.Name)
	if !ok {
		return // not a Touchpoint member
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.entries[n.Name]
	if e == nil {
		e = &entry{role: role, id: id}
		v.entries[n.Name] = e
	}
	e.st.Status, e.st.Addr, e.st.LastSeen = api.AgentAlive, nodeAddr(n), v.now()
	e.heard = e.st.LastSeen
	e.leaving = len(n.Meta) == 0
	if !e.leaving {
		if m, err := protocol.DecodeGossipMeta(n.Meta); err == nil {
			e.st.Meta = m
		}
	}
}

func (v *view) NotifyLeave(n *memberlist.Node) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.entries[n.Name]
	if e == nil {
		return
	}
	e.st.Status = api.AgentDead
	if e.leaving {
		e.st.Status = api.AgentLeft
	}
	e.gone = v.now()
}

// tick refreshes LastSeen of the members memberlist lists and forgets
// those gone for longer than retain.
func (v *view) tick(listed map[string]bool) {
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	for name, e := range v.entries {
		switch {
		case e.st.Status == api.AgentAlive && listed[name] && e.st.Meta.Beat == 0:
			e.st.LastSeen = now
		case e.st.Status != api.AgentAlive && now.Sub(e.gone) > v.retain:
			delete(v.entries, name)
		}
	}
}

func (v *view) byRole(role string) map[string]MemberState {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string]MemberState{}
	now := v.now()
	for _, e := range v.entries {
		if e.role == role {
			st := e.st
			if st.Status == api.AgentAlive && st.Meta.Beat > 0 && now.Sub(e.heard) > v.suspect {
				st.Status = api.AgentSuspect
			}
			out[e.id] = st
		}
	}
	return out
}

// liveAddrs is the set of addresses of alive members.
func (v *view) liveAddrs() map[string]bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string]bool{}
	for _, e := range v.entries {
		if e.st.Status == api.AgentAlive {
			out[e.st.Addr] = true
		}
	}
	return out
}

func nodeAddr(n *memberlist.Node) string {
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}
