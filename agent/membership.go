package agent

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"touchpoint.dev/touchpoint/agent/gossip"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// gossiper is what the agent needs of its gossip member (agent/gossip).
type gossiper interface {
	Addr() string
	Join(addrs []string) (int, error)
	SetKeys(keys [][]byte) error
	UpdateMeta() error
	Leave(timeout time.Duration) error
	Shutdown() error
	Members() []gossip.Member
}

// membership runs the agent's gossip member: it starts once the keys are
// known (from the identity on disk, or at enrollment), follows the keyring
// and the server list the link reports, gossips the agent's metadata when
// it changes and rejoins servers that are not members.
type membership struct {
	a   *Agent
	log *slog.Logger
	new func(gossip.Config) (gossiper, error)

	mu       sync.Mutex
	keys     [][]byte
	keysSet  bool // keys reported since the last step
	applied  [][]byte
	servers  []string
	g        gossiper
	lastMeta []byte
	beat     atomic.Uint64 // heartbeats gossiped (read by meta, under mu or not)
	joining  bool
	wake     chan struct{}
}

func newMembership(a *Agent) *membership {
	m := &membership{
		a:    a,
		log:  a.cfg.Logger.With("component", "membership"),
		new:  func(c gossip.Config) (gossiper, error) { return gossip.New(c) },
		wake: make(chan struct{}, 1),
	}
	m.beat.Store(1) // from the first metadata on, the agent heartbeats
	return m
}

// setKeys is the link's OnKeyring.
func (m *membership) setKeys(keys [][]byte) {
	m.mu.Lock()
	m.keys, m.keysSet = keys, true
	m.mu.Unlock()
	m.poke()
}

// setServers is the link's OnServers.
func (m *membership) setServers(servers []wire.ServerInfo) {
	var addrs []string
	for _, s := range servers {
		if s.GossipAddr != "" {
			addrs = append(addrs, s.GossipAddr)
		}
	}
	m.mu.Lock()
	changed := !slices.Equal(addrs, m.servers)
	m.servers = addrs
	m.mu.Unlock()
	if changed {
		m.poke()
	}
}

func (m *membership) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *membership) addr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.g == nil {
		return ""
	}
	return m.g.Addr()
}

// meta is what the agent gossips about itself.
func (m *membership) meta() []byte {
	a := m.a
	st := a.outbox.Stats()
	var session string
	if ls := a.link.Status(); ls.Connected {
		session = ls.Node
	}
	meta := protocol.GossipMeta{
		Role: protocol.GossipRoleAgent, ID: a.cfg.ID, Version: a.cfg.Version,
		Site: a.cfg.Site, Channel: a.cfg.Channel,
		ConfigIndex: a.cache.Position().Index, OutboxBacklog: st.Backlog, OutboxFull: st.Full, DiskLow: a.disk.Check() != nil,
		Session: session,
		Beat:    m.beat.Load(),
	}
	b, err := meta.Encode()
	if err != nil { // a site name too long for memberlist: gossip who we are
		b, _ = protocol.GossipMeta{Role: protocol.GossipRoleAgent, ID: a.cfg.ID}.Encode()
	}
	return b
}

func (m *membership) run(ctx context.Context) {
	t := m.a.cfg.GossipTiming
	metaT := time.NewTicker(t.MetaEvery)
	defer metaT.Stop()
	rejoinT := time.NewTicker(t.RejoinEvery)
	defer rejoinT.Stop()
	for {
		rejoin := false
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
			rejoin = true
		case <-metaT.C:
			// A new beat: the metadata changes, so it is gossiped even
			// when nothing else moved — the control plane's liveness.
			m.beat.Add(1)
		case <-rejoinT.C:
			rejoin = true
		}
		m.step(rejoin)
	}
}

// step starts gossip when it can, applies new keys, updates the metadata
// if it changed, and (when rejoin) joins the servers that are not members.
func (m *membership) step(rejoin bool) {
	log := m.log
	m.mu.Lock()
	g, keys, keysSet := m.g, m.keys, m.keysSet
	m.keysSet = false
	m.mu.Unlock()
	if len(keys) == 0 {
		return
	}
	started := false
	if g == nil {
		t := m.a.cfg.GossipTiming
		conf := gossip.Config{
			Name:          protocol.GossipName(protocol.GossipRoleAgent, m.a.cfg.ID),
			BindAddr:      m.a.cfg.GossipAddr,
			Keys:          keys,
			Meta:          m.meta,
			Logger:        m.a.cfg.Logger,
			ProbeInterval: t.ProbeInterval, ProbeTimeout: t.ProbeTimeout,
			GossipInterval: t.GossipInterval, SuspicionMult: t.SuspicionMult,
		}
		// With no port given, reuse the one picked at the last start: the
		// pool knows the agent by its address, and memberlist refuses a
		// known name at a new address for a while (the agent would show
		// dead after a restart).
		remembered := m.rememberedAddr()
		var ng gossiper
		var err error
		if remembered != "" {
			c := conf
			c.BindAddr = remembered
			if ng, err = m.new(c); err != nil {
				log.Info("remembered gossip port is taken; picking another", "addr", remembered, "error", err)
			}
		}
		if ng == nil {
			ng, err = m.new(conf)
		}
		if err != nil {
			log.Warn("gossip not started; retrying", "bind", m.a.cfg.GossipAddr, "error", err)
			m.mu.Lock()
			m.keysSet = true
			m.mu.Unlock()
			return
		}
		log.Info("gossip started", "addr", ng.Addr())
		m.rememberAddr(ng.Addr())
		m.mu.Lock()
		m.g, g = ng, ng
		m.applied = keys
		m.lastMeta = m.meta()
		m.mu.Unlock()
		started, rejoin = true, true
	}
	if keysSet && !started && !slices.EqualFunc(keys, m.applied, bytes.Equal) {
		if err := g.SetKeys(keys); err != nil {
			log.Warn("install gossip keys", "error", err)
		} else {
			m.applied = keys // only step touches applied
			log.Info("gossip keyring installed", "keys", len(keys))
		}
	}
	if meta := m.meta(); !started {
		m.mu.Lock()
		changed := !bytes.Equal(meta, m.lastMeta)
		m.lastMeta = meta
		m.mu.Unlock()
		if changed {
			if err := g.UpdateMeta(); err != nil {
				log.Warn("gossip metadata", "error", err)
			}
		}
	}
	if rejoin {
		m.rejoin(g, started)
	}
}

// rejoin joins, in the background and one round at a time, the servers'
// gossip addresses that are not alive members, and the configured seeds at
// start or while the agent is alone in its pool.
func (m *membership) rejoin(g gossiper, first bool) {
	m.mu.Lock()
	if m.joining {
		m.mu.Unlock()
		return
	}
	alive := map[string]bool{}
	for _, mem := range g.Members() {
		if mem.State == gossip.StateAlive {
			alive[mem.Addr] = true
		}
	}
	want := slices.Clone(m.servers)
	if first || len(alive) <= 1 {
		want = append(want, m.a.cfg.GossipJoin...)
	}
	var join []string
	for _, addr := range want {
		if !alive[addr] && addr != g.Addr() && !slices.Contains(join, addr) {
			join = append(join, addr)
		}
	}
	if len(join) == 0 {
		m.mu.Unlock()
		return
	}
	m.joining = true
	m.mu.Unlock()
	go func() {
		n, err := g.Join(join)
		log := m.log
		if err != nil {
			log.Warn("gossip join", "addrs", join, "error", err)
		} else {
			log.Debug("gossip joined", "addrs", join, "answered", n)
		}
		m.mu.Lock()
		m.joining = false
		m.mu.Unlock()
	}()
}

// stop leaves the pool (when leave) and shuts gossip down.
func (m *membership) stop(leave bool) {
	m.mu.Lock()
	g := m.g
	m.g = nil
	m.mu.Unlock()
	if g == nil {
		return
	}
	if leave {
		if err := g.Leave(2 * time.Second); err != nil {
			m.log.Warn("gossip leave", "error", err)
		}
	}
	if err := g.Shutdown(); err != nil {
		m.log.Warn("gossip shutdown", "error", err)
	}
}

// gossipAddrFile remembers the gossip address picked for a port-0 bind.
const gossipAddrFile = "gossip.addr"

func (m *membership) rememberedAddr() string {
	host, port, err := net.SplitHostPort(m.a.cfg.GossipAddr)
	if err != nil || port != "0" {
		return "" // a fixed port was given
	}
	b, err := os.ReadFile(filepath.Join(m.a.cfg.DataDir, "identity", gossipAddrFile))
	if err != nil {
		return ""
	}
	addr := strings.TrimSpace(string(b))
	if h, _, err := net.SplitHostPort(addr); err != nil || h != host {
		return ""
	}
	return addr
}

func (m *membership) rememberAddr(addr string) {
	if _, port, err := net.SplitHostPort(m.a.cfg.GossipAddr); err != nil || port != "0" {
		return
	}
	path := filepath.Join(m.a.cfg.DataDir, "identity", gossipAddrFile)
	if err := os.WriteFile(path, []byte(addr+"\n"), 0o600); err != nil {
		m.log.Warn("remember gossip address", "file", path, "error", err)
	}
}
