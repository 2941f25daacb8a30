package gossip

import (
	"bytes"
	"cmp"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/memberlist"
)

// State is a member's state as this member sees it.
//
// There is no suspect state: memberlist v0.7.0 tracks suspicion but never
// shows it (Node.State is shadowed by an internal field and always reads
// alive: hashicorp/memberlist#293, #266). A suspect member is alive here
// until it is declared dead.
type State string

const (
	StateAlive State = "alive"
	StateDead  State = "dead"
	StateLeft  State = "left"
)

// Member is one member of the pool.
type Member struct {
	Name  string
	Addr  string // host:port it gossips on
	State State
	// Meta is its last non-empty metadata (kept after it left or died).
	Meta []byte
}

// Members lists the pool, sorted by name: every live member, this one
// included, and the most recent members that died or left (at most
// maxGone of them).
func (g *Gossip) Members() []Member { return g.view.members() }

// maxGone bounds how many dead or left members are remembered.
const maxGone = 256

// view is the member table, kept from memberlist's events. memberlist's
// Members() hands out pointers to nodes it rewrites under its own lock, so
// their metadata and address cannot be read safely; events are called
// under that lock, and copied here.
type view struct {
	mu      sync.Mutex
	entries map[string]*entry
	seq     uint64
}

type entry struct {
	m       Member
	leaving bool   // its metadata went empty: it is leaving
	goneSeq uint64 // order in which it went away
}

func newView() *view { return &view{entries: map[string]*entry{}} }

// memberlist.EventDelegate. Never call into memberlist from these: they run
// under its node lock.

func (v *view) NotifyJoin(n *memberlist.Node)   { v.alive(n) }
func (v *view) NotifyUpdate(n *memberlist.Node) { v.alive(n) }

func (v *view) alive(n *memberlist.Node) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.entries[n.Name]
	if e == nil {
		e = &entry{}
		v.entries[n.Name] = e
	}
	e.m.Name, e.m.Addr, e.m.State = n.Name, nodeAddr(n), StateAlive
	e.leaving = len(n.Meta) == 0
	if !e.leaving {
		e.m.Meta = bytes.Clone(n.Meta)
	}
}

func (v *view) NotifyLeave(n *memberlist.Node) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.entries[n.Name]
	if e == nil {
		e = &entry{m: Member{Name: n.Name, Addr: nodeAddr(n)}}
		v.entries[n.Name] = e
	}
	e.m.State = StateDead
	if e.leaving {
		e.m.State = StateLeft
	}
	v.seq++
	e.goneSeq = v.seq
	var gone []*entry
	for _, x := range v.entries {
		if x.m.State != StateAlive {
			gone = append(gone, x)
		}
	}
	if len(gone) <= maxGone {
		return
	}
	slices.SortFunc(gone, func(a, b *entry) int { return cmp.Compare(a.goneSeq, b.goneSeq) })
	for _, x := range gone[:len(gone)-maxGone] {
		delete(v.entries, x.m.Name)
	}
}

func (v *view) members() []Member {
	v.mu.Lock()
	out := make([]Member, 0, len(v.entries))
	for _, e := range v.entries {
		m := e.m
		m.Meta = bytes.Clone(m.Meta)
		out = append(out, m)
	}
	v.mu.Unlock()
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func nodeAddr(n *memberlist.Node) string {
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}
