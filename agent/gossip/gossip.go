// Package gossip is the agent's membership in the Touchpoint gossip pool
// (hashicorp/memberlist): liveness of agents and control-plane nodes and
// discovery of the nodes' addresses from their metadata.
//
// It is a thin wrapper that fixes what memberlist leaves loose: it binds
// exactly the address it is given (memberlist's defaults bind and advertise
// port 7946), encryption is always on with a rotating keyring, memberlist's
// log goes to slog, and departures are told apart from failures.
//
// Control-plane nodes run the same protocol through controlplane/fleet; the
// two wrappers are separate because agent and control plane never import
// each other, and only protocol is shared (it may not depend on memberlist).
package gossip

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

	"touchpoint.dev/touchpoint/protocol/gossiplog"
)

// Config configures a gossip member.
type Config struct {
	// Name is the member's name in the pool, protocol.GossipName(role, id).
	Name string
	// BindAddr is host:port to listen on, UDP and TCP. It is required; port
	// 0 picks a free port (Addr reports it). Nothing else is ever bound.
	BindAddr string
	// AdvertiseAddr is the host:port other members reach this one at
	// (default: the bound address; port 0 or none: the bound port).
	AdvertiseAddr string
	// Keys is the gossip keyring, primary first. Required: gossip is
	// always encrypted. AES keys of 16, 24 or 32 bytes.
	Keys [][]byte
	// Meta returns the member's metadata (protocol.GossipMeta, encoded; at
	// most 512 bytes, never empty: members read empty metadata as "leaving").
	// It is read at New and on each UpdateMeta. Required.
	Meta   func() []byte
	Logger *slog.Logger
	// Failure detection timing; zero keeps memberlist's LAN defaults
	// (probe every 1 s, timeout 500 ms, gossip every 200 ms, suspicion
	// multiplier 4).
	ProbeInterval  time.Duration
	ProbeTimeout   time.Duration
	GossipInterval time.Duration
	SuspicionMult  int
}

// Gossip is a running gossip member.
type Gossip struct {
	log     *slog.Logger
	ml      *memberlist.Memberlist
	keyring *memberlist.Keyring
	addr    string
	metaFn  func() []byte

	metaMu  sync.Mutex
	meta    []byte
	leaving bool

	keysMu sync.Mutex // serialises SetKeys

	downMu sync.Mutex
	down   bool // Shutdown was called

	view *view
}

// New joins nobody yet: it binds, starts memberlist and returns. Call Join.
func New(cfg Config) (*Gossip, error) {
	if cfg.Name == "" {
		return nil, errors.New("gossip: a member name is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "gossip")
	keyring, err := newKeyring(cfg.Keys)
	if err != nil {
		return nil, err
	}
	g := &Gossip{log: log, keyring: keyring, metaFn: cfg.Meta, view: newView()}
	if g.meta, err = g.readMeta(); err != nil {
		return nil, err
	}

	conf := memberlist.DefaultLANConfig()
	conf.Name = cfg.Name
	conf.Keyring = keyring
	conf.GossipVerifyIncoming, conf.GossipVerifyOutgoing = true, true
	// Gossip messages are a few hundred bytes; memberlist's LZW allocates a
	// fresh coder table for every message it compresses, which made it the
	// largest allocator of an idle control-plane node. Receivers still
	// accept compressed messages from members that send them.
	conf.EnableCompression = false
	conf.Delegate = delegate{g}
	conf.Events = g.view
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
	g.addr = adv.String()

	ml, err := memberlist.Create(conf)
	if err != nil {
		_ = tr.Shutdown()
		return nil, fmt.Errorf("gossip: start memberlist on %s: %w", cfg.BindAddr, err)
	}
	g.ml = ml
	log.Debug("gossip started", "name", cfg.Name, "addr", g.addr)
	return g, nil
}

// deadNodeReclaim is how long a dead member's name stays bound to its old
// address.
const deadNodeReclaim = 30 * time.Second

// Addr is the advertised host:port, with the port actually bound.
func (g *Gossip) Addr() string { return g.addr }

// Join contacts the given members (host:port) and syncs state with them. It
// returns how many answered; an error only when none did.
func (g *Gossip) Join(addrs []string) (int, error) {
	if len(addrs) == 0 {
		return 0, nil
	}
	n, err := g.ml.Join(addrs)
	if err != nil {
		return n, fmt.Errorf("gossip: join %v: %w", addrs, err)
	}
	return n, nil
}

// UpdateMeta reads the Meta func again and gossips the new metadata. It
// waits briefly for the first broadcast; memberlist keeps gossiping it
// after that.
func (g *Gossip) UpdateMeta() error {
	meta, err := g.readMeta()
	if err != nil {
		return err
	}
	g.metaMu.Lock()
	if g.leaving {
		g.metaMu.Unlock()
		return nil
	}
	g.meta = meta
	g.metaMu.Unlock()
	if err := g.ml.UpdateNode(updateWait); err != nil {
		// Only a timeout: the update is applied locally and still queued.
		g.log.Debug("metadata update not yet broadcast", "err", err)
	}
	return nil
}

// updateWait bounds how long UpdateMeta waits for its broadcast.
const updateWait = time.Second

func (g *Gossip) readMeta() ([]byte, error) {
	if g.metaFn == nil {
		return nil, errors.New("gossip: a Meta func is required")
	}
	b := g.metaFn()
	if len(b) == 0 {
		return nil, errors.New("gossip: metadata is empty (empty metadata marks a member that is leaving)")
	}
	if len(b) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("gossip: metadata is %d bytes; memberlist carries at most %d", len(b), memberlist.MetaMaxSize)
	}
	return append([]byte(nil), b...), nil
}

// Leave announces the departure and waits up to timeout (0: 5 s) for it
// to be gossiped. Members then see this one as left rather than dead. The
// member keeps running until Shutdown.
//
// memberlist v0.7.0 does not tell its listeners whether a member left or
// failed (hashicorp/memberlist#293), so Leave first gossips empty metadata:
// a member whose metadata went empty before it went away left. The
// control plane (controlplane/fleet) reads it the same way.
func (g *Gossip) Leave(timeout time.Duration) error {
	g.downMu.Lock()
	defer g.downMu.Unlock()
	if g.down {
		return errors.New("gossip: leave after shutdown")
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	deadline := time.Now().Add(timeout)
	g.metaMu.Lock()
	first := !g.leaving
	g.leaving, g.meta = true, nil
	g.metaMu.Unlock()
	if first {
		if err := g.ml.UpdateNode(timeout / 2); err != nil {
			g.log.Debug("leave marker not yet broadcast", "err", err)
		}
	}
	rest := time.Until(deadline)
	if rest < time.Millisecond {
		rest = time.Millisecond
	}
	if err := g.ml.Leave(rest); err != nil {
		return fmt.Errorf("gossip: leave: %w", err)
	}
	return nil
}

// Shutdown stops gossiping without a goodbye: members will see this one
// fail. Call Leave first for a clean departure. Safe to call twice.
func (g *Gossip) Shutdown() error {
	g.downMu.Lock()
	g.down = true
	g.downMu.Unlock()
	if err := g.ml.Shutdown(); err != nil {
		return fmt.Errorf("gossip: shutdown: %w", err)
	}
	return nil
}

// delegate hands memberlist the member's metadata; the rest of
// memberlist.Delegate is unused.
type delegate struct{ g *Gossip }

func (d delegate) NodeMeta(limit int) []byte {
	d.g.metaMu.Lock()
	defer d.g.metaMu.Unlock()
	if len(d.g.meta) > limit {
		return nil // never happens: readMeta checks the limit
	}
	return d.g.meta
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
		return nil, nil, errors.New("gossip: a bind address (host:port) is required")
	}
	host, portStr, err := net.SplitHostPort(bindAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("gossip: bind address %q: %w", bindAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, nil, fmt.Errorf("gossip: bind address %q: bad port", bindAddr)
	}
	if host == "" {
		return nil, nil, fmt.Errorf("gossip: bind address %q: give a host (0.0.0.0 for every interface)", bindAddr)
	}
	ip, err := resolveIP(host)
	if err != nil {
		return nil, nil, fmt.Errorf("gossip: bind address %q: %w", bindAddr, err)
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
		return nil, nil, fmt.Errorf("gossip: bind %s: %w", bindAddr, err)
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
			return nil, nil, fmt.Errorf("gossip: advertise address %q: %w", advertiseAddr, err)
		}
		if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
			_ = nt.Shutdown()
			return nil, nil, fmt.Errorf("gossip: advertise address %q: bad port", advertiseAddr)
		} else if n != 0 {
			adv.Port = n
		}
	} else {
		// memberlist picks a private address when bound to 0.0.0.0.
		advIP, _, err := nt.FinalAdvertiseAddr("", 0)
		if err != nil {
			_ = nt.Shutdown()
			return nil, nil, fmt.Errorf("gossip: no address to advertise for %s (set one): %w", bindAddr, err)
		}
		adv.IP = advIP
	}
	if adv.IP.IsUnspecified() {
		_ = nt.Shutdown()
		return nil, nil, fmt.Errorf("gossip: cannot advertise %s; set an advertise address", adv.IP)
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
