// Package fleet is a control-plane node's membership in the Touchpoint gossip
// pool (hashicorp/memberlist) and its live view of the fleet: which agents
// and control-plane nodes are alive, dead or gone, since when, and what
// they last said about themselves (protocol.GossipMeta).
//
// Like agent/gossip it binds exactly the address it is given, always
// encrypts with a rotating keyring, routes memberlist's log to slog and
// tells departures from failures (a member gossips empty metadata before it
// leaves). The two wrappers are separate because agent and control plane
// never import each other and protocol may not depend on memberlist.
//
// memberlist forgets a dead member and never calls it again; Rejoin, called
// periodically with the gossip addresses kept in Raft, brings back members
// that restarted.
package fleet

import (
	"errors"
	"fmt"
	stdlog "log"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/gossiplog"
)

// Config configures a node's gossip membership.
type Config struct {
	// NodeID is the control-plane node's id; it gossips as
	// protocol.GossipName(protocol.GossipRoleServer, NodeID).
	NodeID string
	// BindAddr is host:port to listen on, UDP and TCP. Required; port 0
	// picks a free port (Addr reports it). Nothing else is ever bound.
	BindAddr string
	// AdvertiseAddr is the host:port members reach this node at (default:
	// the bound address; port 0 or none: the bound port).
	AdvertiseAddr string
	// Keys is the gossip keyring, primary first. Required.
	Keys [][]byte
	// Meta returns the node's metadata: protocol.GossipMeta{Role: server,
	// ID, QUICAddr, HTTPAddr}, encoded. Never empty (empty metadata marks a
	// leaving member). Read at New and on each UpdateMeta. Required.
	Meta   func() []byte
	Logger *slog.Logger
	// Failure detection timing; zero keeps memberlist's LAN defaults
	// (probe every 1 s, timeout 500 ms, gossip every 200 ms, suspicion
	// multiplier 4).
	ProbeInterval  time.Duration
	ProbeTimeout   time.Duration
	GossipInterval time.Duration
	SuspicionMult  int
	// DeadRetain is how long a dead or left member stays in the view
	// (default 24 h).
	DeadRetain time.Duration
	// SuspectAfter is how long a member that heartbeats (its metadata
	// carries a beat) may go unheard before the view calls it suspect,
	// while memberlist still lists it alive. Default two and a half
	// protocol.GossipBeatInterval.
	SuspectAfter time.Duration
	// Now is the clock for LastSeen, DeadRetain and Rejoin's backoff
	// (default time.Now).
	Now func() time.Time
}

// Fleet is a running membership and its view.
type Fleet struct {
	log     *slog.Logger
	ml      *memberlist.Memberlist
	keyring *memberlist.Keyring
	addr    string
	metaFn  func() []byte
	now     func() time.Time

	metaMu  sync.Mutex
	meta    []byte
	leaving bool

	keysMu sync.Mutex // serialises SetKeys

	downMu sync.Mutex
	down   bool

	view *view
	rj   rejoiner

	stop     chan struct{}
	stopOnce sync.Once
	polled   sync.WaitGroup
}

// New binds, starts memberlist and the view's poller. Call Join or Rejoin.
func New(cfg Config) (*Fleet, error) {
	if !protocol.ValidAgentID(cfg.NodeID) {
		return nil, fmt.Errorf("fleet: node id %q is not a valid gossip id", cfg.NodeID)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "fleet")
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	retain := cfg.DeadRetain
	if retain <= 0 {
		retain = 24 * time.Hour
	}
	suspect := cfg.SuspectAfter
	if suspect <= 0 {
		suspect = 5 * protocol.GossipBeatInterval / 2
	}
	keyring, err := newKeyring(cfg.Keys)
	if err != nil {
		return nil, err
	}
	f := &Fleet{log: log, keyring: keyring, metaFn: cfg.Meta, now: now,
		view: newView(now, retain, suspect), stop: make(chan struct{})}
	if f.meta, err = f.readMeta(); err != nil {
		return nil, err
	}

	conf := memberlist.DefaultLANConfig()
	conf.Name = protocol.GossipName(protocol.GossipRoleServer, cfg.NodeID)
	conf.Keyring = keyring
	conf.GossipVerifyIncoming, conf.GossipVerifyOutgoing = true, true
	// Gossip messages are a few hundred bytes; memberlist's LZW allocates a
	// fresh coder table for every message it compresses, which made it the
	// largest allocator of an idle control-plane node. Receivers still
	// accept compressed messages from members that send them.
	conf.EnableCompression = false
	conf.Delegate = delegate{f}
	conf.Events = f.view
	conf.Logger = gossiplog.New(log, nil)
	// A member restarted at a new address under its old name is accepted
	// once its old self has been dead this long (memberlist's default, 0,
	// refuses it for as long as the old address is remembered).
	conf.DeadNodeReclaimTime = deadNodeReclaim
	if cfg.ProbeInterval > 0 {
		conf.ProbeInterval = cfg.ProbeInterval
	}
	if cfg.ProbeTimeout > 0 {
		conf.ProbeTimeout = cfg.ProbeTimeout
	}
	if cfg.GossipInterval > 0 {
		conf.GossipInterval = cfg.GossipInterval
	}
	if cfg.SuspicionMult > 0 {
		conf.SuspicionMult = cfg.SuspicionMult
	}

	tr, adv, err := bind(cfg.BindAddr, cfg.AdvertiseAddr, conf.Logger)
	if err != nil {
		return nil, err
	}
	conf.Transport = tr
	conf.BindAddr, conf.BindPort = tr.bindIP, tr.port
	conf.AdvertiseAddr, conf.AdvertisePort = adv.IP.String(), adv.Port
	f.addr = adv.String()

	ml, err := memberlist.Create(conf)
	if err != nil {
		_ = tr.Shutdown()
		return nil, fmt.Errorf("fleet: start memberlist on %s: %w", cfg.BindAddr, err)
	}
	f.ml = ml
	f.polled.Add(1)
	go f.poll()
	log.Debug("gossip started", "name", conf.Name, "addr", f.addr)
	return f, nil
}

// deadNodeReclaim is how long a dead member's name stays bound to its old
// address.
const deadNodeReclaim = 30 * time.Second

// Addr is the advertised host:port, with the port actually bound.
func (f *Fleet) Addr() string { return f.addr }

// Join contacts the given members (host:port) and syncs state with them. It
// returns how many answered; an error only when none did.
func (f *Fleet) Join(addrs []string) (int, error) {
	if len(addrs) == 0 {
		return 0, nil
	}
	n, err := f.ml.Join(addrs)
	if err != nil {
		return n, fmt.Errorf("fleet: join %v: %w", addrs, err)
	}
	return n, nil
}

// UpdateMeta reads the Meta func again and gossips the new metadata.
func (f *Fleet) UpdateMeta() error {
	meta, err := f.readMeta()
	if err != nil {
		return err
	}
	f.metaMu.Lock()
	if f.leaving {
		f.metaMu.Unlock()
		return nil
	}
	f.meta = meta
	f.metaMu.Unlock()
	if err := f.ml.UpdateNode(updateWait); err != nil {
		// Only a timeout: the update is applied locally and still queued.
		f.log.Debug("metadata update not yet broadcast", "err", err)
	}
	return nil
}

// updateWait bounds how long UpdateMeta waits for its broadcast.
const updateWait = time.Second

func (f *Fleet) readMeta() ([]byte, error) {
	if f.metaFn == nil {
		return nil, errors.New("fleet: a Meta func is required")
	}
	b := f.metaFn()
	if len(b) == 0 {
		return nil, errors.New("fleet: metadata is empty (empty metadata marks a member that is leaving)")
	}
	if len(b) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("fleet: metadata is %d bytes; memberlist carries at most %d", len(b), memberlist.MetaMaxSize)
	}
	return append([]byte(nil), b...), nil
}

// Leave announces the departure and waits up to timeout (0: 5 s) for it to
// be gossiped: members then see this node as left, not dead. It first
// gossips empty metadata, the departure mark (memberlist v0.7.0 does not
// say whether a member left or failed: hashicorp/memberlist#293). The node
// keeps gossiping until Shutdown.
func (f *Fleet) Leave(timeout time.Duration) error {
	f.downMu.Lock()
	defer f.downMu.Unlock()
	if f.down {
		return errors.New("fleet: leave after shutdown")
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	deadline := time.Now().Add(timeout)
	f.metaMu.Lock()
	first := !f.leaving
	f.leaving, f.meta = true, nil
	f.metaMu.Unlock()
	if first {
		if err := f.ml.UpdateNode(timeout / 2); err != nil {
			f.log.Debug("leave marker not yet broadcast", "err", err)
		}
	}
	rest := time.Until(deadline)
	if rest < time.Millisecond {
		rest = time.Millisecond
	}
	if err := f.ml.Leave(rest); err != nil {
		return fmt.Errorf("fleet: leave: %w", err)
	}
	return nil
}

// Shutdown stops gossiping without a goodbye (members see this node fail;
// call Leave first for a clean departure) and stops the view. Safe to call
// twice.
func (f *Fleet) Shutdown() error {
	f.downMu.Lock()
	f.down = true
	f.downMu.Unlock()
	f.stopOnce.Do(func() { close(f.stop) })
	f.polled.Wait()
	if err := f.ml.Shutdown(); err != nil {
		return fmt.Errorf("fleet: shutdown: %w", err)
	}
	return nil
}

// delegate hands memberlist the node's metadata; the rest of
// memberlist.Delegate is unused.
type delegate struct{ f *Fleet }

func (d delegate) NodeMeta(limit int) []byte {
	d.f.metaMu.Lock()
	defer d.f.metaMu.Unlock()
	if len(d.f.meta) > limit {
		return nil // never happens: readMeta checks the limit
	}
	return d.f.meta
}
func (delegate) NotifyMsg([]byte)                {}
func (delegate) GetBroadcasts(int, int) [][]byte { return nil }
func (delegate) LocalState(bool) []byte          { return nil }
func (delegate) MergeRemoteState([]byte, bool)   {}

// transport is memberlist's NetTransport bound by us, so the port is the
// one asked for and known before memberlist starts.
type transport struct {
	*memberlist.NetTransport
	bindIP string
	port   int
}

// bind listens on bindAddr exactly and works out the advertised address.
func bind(bindAddr, advertiseAddr string, logger *stdlog.Logger) (*transport, *net.TCPAddr, error) {
	if bindAddr == "" {
		return nil, nil, errors.New("fleet: a bind address (host:port) is required")
	}
	host, portStr, err := net.SplitHostPort(bindAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("fleet: bind address %q: %w", bindAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, nil, fmt.Errorf("fleet: bind address %q: bad port", bindAddr)
	}
	if host == "" {
		return nil, nil, fmt.Errorf("fleet: bind address %q: give a host (0.0.0.0 for every interface)", bindAddr)
	}
	ip, err := resolveIP(host)
	if err != nil {
		return nil, nil, fmt.Errorf("fleet: bind address %q: %w", bindAddr, err)
	}
	tries := 1
	if port == 0 {
		// memberlist binds TCP on a free port, then UDP on the same number,
		// which another socket may hold: try again, as memberlist does.
		tries = 10
	}
	var nt *memberlist.NetTransport
	for range tries {
		nt, err = memberlist.NewNetTransport(&memberlist.NetTransportConfig{
			BindAddrs: []string{ip.String()}, BindPort: port, Logger: logger})
		if err == nil {
			break
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("fleet: bind %s: %w", bindAddr, err)
	}
	tr := &transport{NetTransport: nt, bindIP: ip.String(), port: nt.GetAutoBindPort()}

	adv := &net.TCPAddr{Port: tr.port}
	if advertiseAddr != "" {
		h, p, err := net.SplitHostPort(advertiseAddr)
		if err != nil {
			h, p = advertiseAddr, "0"
		}
		if adv.IP, err = resolveIP(h); err != nil {
			_ = nt.Shutdown()
			return nil, nil, fmt.Errorf("fleet: advertise address %q: %w", advertiseAddr, err)
		}
		if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
			_ = nt.Shutdown()
			return nil, nil, fmt.Errorf("fleet: advertise address %q: bad port", advertiseAddr)
		} else if n != 0 {
			adv.Port = n
		}
	} else {
		// memberlist picks a private address when bound to 0.0.0.0.
		advIP, _, err := nt.FinalAdvertiseAddr("", 0)
		if err != nil {
			_ = nt.Shutdown()
			return nil, nil, fmt.Errorf("fleet: no address to advertise for %s (set one): %w", bindAddr, err)
		}
		adv.IP = advIP
	}
	if adv.IP.IsUnspecified() {
		_ = nt.Shutdown()
		return nil, nil, fmt.Errorf("fleet: cannot advertise %s; set an advertise address", adv.IP)
	}
	if ip4 := adv.IP.To4(); ip4 != nil {
		adv.IP = ip4
	}
	return tr, adv, nil
}

// resolveIP returns host as an IP, looking it up when it is a name
// (memberlist itself only takes IP literals).
func resolveIP(host string) (net.IP, error) {
	if ip := net.ParseIP(host); ip != nil {
		return ip, nil
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	for _, ip := range ips {
		if ip.To4() != nil {
			return ip, nil
		}
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("resolve %s: no address", host)
	}
	return ips[0], nil
}
