// Package gateway is a control-plane node's QUIC endpoint for agents
// (ALPN "touchpoint/1", TLS 1.3): it enrolls agents with a join token,
// holds their mutually authenticated sessions, pushes every committed
// configuration change to them, and commits their contact events through
// Raft. Any node accepts agent sessions; a follower forwards enrollments
// and event batches to the leader's gateway over a node-to-node QUIC
// connection authenticated with its own certificate from the cluster CA.
//
// See DESIGN.md beside this file.
package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"touchpoint.dev/touchpoint/controlplane/enroll"
	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// Store is the consensus side the gateway needs.
type Store interface {
	ID() string
	IsLeader() bool
	Leader() (id, addr string)
	Apply(ctx context.Context, cmd []byte) (*fsm.Result, error)
}

// State is the replicated state the gateway reads.
type State interface {
	Cluster() (fsm.ClusterInfo, error)
	Applied() uint64
	LastChange() uint64
	FleetGeneration() uint64
	Changed() <-chan struct{}
	WaitApplied(ctx context.Context, idx uint64) error
	Changes(after uint64, limit int) (api.ChangeFeed, error)
	SnapshotFeed() (api.ChangeFeed, error)
	CA() (fsm.ClusterCA, bool, error)
	Agent(id string) (fsm.Agent, bool, error)
	AgentMark(agent string) (uint64, error)
	Nodes() (map[string]fsm.NodeRegister, error)
	GossipKeys() ([][]byte, error)
	// Customers and their contacts (wire version 3).
	Customer(id string) (*protocol.Profile, error)
	CustomersInRegion(region, afterID string, limit int) ([]protocol.Profile, string, error)
	CountRegion(region string, max int) (int, error)
	RecentContacts(customer string, limit int) ([]protocol.ContactEvent, error)
	ContactsAfter(pos uint64, limit int) ([]protocol.ContactEvent, uint64, uint64)
	ContactsHead() uint64
	// OfferVolumes: presentations of every offer with a volumeCap.
	OfferVolumes() (map[string]int64, error)
}

// Config configures a gateway.
type Config struct {
	NodeID string
	// Addr is the UDP bind address (host:0 picks a port); Advertise is what
	// agents and other nodes dial (default: the bound address).
	Addr      string
	Advertise string
	// DataDir keeps the node's stateless-reset key.
	DataDir string
	Logger  *slog.Logger
	// Now is the clock stamped into commands; default time.Now.
	Now func() time.Time
	// KeepAlivePeriod and IdleTimeout tune every connection (defaults 2 s
	// and 10 s: quic-go sends no keep-alives unless told to).
	KeepAlivePeriod time.Duration
	IdleTimeout     time.Duration
	// AgentCertTTL is how long an agent certificate is valid (default one
	// year).
	AgentCertTTL time.Duration
	// FeedPage bounds the changes of one Changes frame (default 1,000).
	FeedPage int
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.KeepAlivePeriod <= 0 {
		c.KeepAlivePeriod = 2 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 10 * time.Second
	}
	if c.AgentCertTTL <= 0 {
		c.AgentCertTTL = 365 * 24 * time.Hour
	}
	if c.FeedPage <= 0 {
		c.FeedPage = 1000
	}
}

// QUIC application error codes a gateway closes connections with.
const (
	closeNormal    quic.ApplicationErrorCode = 0
	closeRefused   quic.ApplicationErrorCode = 1 // not allowed: revoked, unknown, wrong certificate
	closeProtocol  quic.ApplicationErrorCode = 2
	closeReplaced  quic.ApplicationErrorCode = 3 // a newer session of the same agent took over
	closeShutdown  quic.ApplicationErrorCode = 4
	streamCanceled quic.StreamErrorCode      = 1
)

// ResetKeyFile holds the node's QUIC stateless-reset key.
const ResetKeyFile = "quic.reset.key"

// Gateway is a node's agent endpoint.
type Gateway struct {
	cfg   Config
	log   *slog.Logger
	store Store
	state State

	udp       *net.UDPConn
	tr        *quic.Transport
	advertise string

	certMu   sync.Mutex
	cert     *tls.Certificate // this node's server certificate
	certCA   []byte           // DER of the CA it was issued by
	ca       *enroll.CA
	caPool   *x509.CertPool
	nodeKey  *ecdsa.PrivateKey
	certTill time.Time

	hub *hub

	mu       sync.Mutex
	sessions map[string]*session // agent id → live session on this node
	stopped  bool                // Close or Kill began: no new goroutines
	conns    map[*quic.Conn]struct{}

	fwd *forwarder

	fleetMu sync.Mutex
	fleetCh chan struct{}

	metrics Metrics

	ready     chan struct{} // closed once the listener serves
	closing   chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// Metrics are the gateway's counters (read by the node's /metrics).
type Metrics struct {
	Sessions        atomic.Int64
	EventsCommitted atomic.Uint64
	EventsForwarded atomic.Uint64
	Batches         atomic.Uint64
	BatchErrors     atomic.Uint64
	Enrollments     atomic.Uint64
	EnrollRefused   atomic.Uint64
	ConnsRefused    atomic.Uint64
	ChangesPushed   atomic.Uint64
	ContactsPushed  atomic.Uint64 // Contacts frames
	ProfilesServed  atomic.Int64
}

// New binds the UDP socket (so a port conflict fails the start and the
// address is known for registration). Run serves.
func New(cfg Config, st Store, state State) (*Gateway, error) {
	cfg.setDefaults()
	if cfg.Addr == "" {
		return nil, errors.New("gateway: a QUIC address is required")
	}
	ua, err := net.ResolveUDPAddr("udp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("gateway: quic address %s: %w", cfg.Addr, err)
	}
	udp, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("gateway: listen quic %s: %w", cfg.Addr, err)
	}
	g := &Gateway{
		cfg: cfg, log: cfg.Logger.With("component", "gateway"), store: st, state: state,
		udp: udp, sessions: map[string]*session{}, conns: map[*quic.Conn]struct{}{},
		ready: make(chan struct{}), closing: make(chan struct{}), fleetCh: make(chan struct{}),
	}
	g.advertise = cfg.Advertise
	if g.advertise == "" {
		la := udp.LocalAddr().(*net.UDPAddr)
		if la.IP.IsUnspecified() {
			udp.Close()
			return nil, fmt.Errorf("gateway: quic address %s binds every interface: give an advertise address", cfg.Addr)
		}
		g.advertise = la.String()
	}
	key, err := loadResetKey(cfg.DataDir)
	if err != nil {
		udp.Close()
		return nil, err
	}
	g.tr = &quic.Transport{Conn: udp, StatelessResetKey: key}
	g.nodeKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		udp.Close()
		return nil, fmt.Errorf("gateway: node key: %w", err)
	}
	g.hub = newHub(state, cfg.FeedPage, g.log, func() int { return int(g.metrics.Sessions.Load()) })
	g.fwd = newForwarder(g)
	return g, nil
}

// Addr is the advertised QUIC address.
func (g *Gateway) Addr() string { return g.advertise }

// M returns the gateway's counters.
func (g *Gateway) M() *Metrics { return &g.metrics }

// loadResetKey reads the node's stateless-reset key, creating it once. The
// key must survive restarts: a restarted node answers packets of its old
// connections with stateless resets the peers can verify, so they drop the
// dead connection at once instead of waiting for the idle timeout.
func loadResetKey(dir string) (*quic.StatelessResetKey, error) {
	var key quic.StatelessResetKey
	if dir == "" {
		if _, err := rand.Read(key[:]); err != nil {
			return nil, err
		}
		return &key, nil
	}
	path := filepath.Join(dir, ResetKeyFile)
	b, err := os.ReadFile(path)
	if err == nil && len(b) == len(key) {
		copy(key[:], b)
		return &key, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("gateway: read %s: %w", path, err)
	}
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("gateway: write %s: %w", path, err)
	}
	_, werr := f.Write(key[:])
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return nil, fmt.Errorf("gateway: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("gateway: install %s: %w", path, err)
	}
	return &key, nil
}

func (g *Gateway) quicConfig() *quic.Config {
	return &quic.Config{
		KeepAlivePeriod:      g.cfg.KeepAlivePeriod,
		MaxIdleTimeout:       g.cfg.IdleTimeout,
		HandshakeIdleTimeout: 5 * time.Second,
		// Agents use two streams; node links one per forwarded batch.
		MaxIncomingStreams:         1000,
		MaxIncomingUniStreams:      -1,
		MaxStreamReceiveWindow:     16 << 20,
		MaxConnectionReceiveWindow: 32 << 20,
	}
}

// Run serves until ctx ends or Close. It waits until the cluster has a CA
// (a node that just joined has not replicated it yet).
func (g *Gateway) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-g.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		if err := g.refreshCert(); err == nil {
			break
		} else if !errors.Is(err, errNoCA) {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-g.state.Changed():
		case <-time.After(time.Second):
		}
	}
	tlsConf := &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{wire.ALPN},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return g.serverTLS()
		},
	}
	ln, err := g.tr.Listen(tlsConf, g.quicConfig())
	if err != nil {
		return fmt.Errorf("gateway: listen: %w", err)
	}
	if !g.goAdd(2) {
		ln.Close()
		return nil
	}
	g.log.Info("gateway serving", "addr", g.advertise)
	close(g.ready)
	go func() { defer g.wg.Done(); g.hub.run(ctx) }()
	go func() { defer g.wg.Done(); g.watchFleet(ctx) }()
	for {
		conn, err := ln.Accept(ctx)
		if err != nil {
			ln.Close()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("gateway: accept: %w", err)
		}
		if !g.goAdd(1) {
			_ = conn.CloseWithError(closeShutdown, "node shutting down")
			continue
		}
		go func() {
			defer g.wg.Done()
			g.serveConn(ctx, conn)
		}()
	}
}

// goAdd counts n goroutines in wg unless the gateway is closing (Add must
// not race Close's Wait).
func (g *Gateway) goAdd(n int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return false
	}
	g.wg.Add(n)
	return true
}

// Ready is closed once the gateway accepts connections.
func (g *Gateway) Ready() <-chan struct{} { return g.ready }

// Close stops accepting, closes every connection and the socket.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		close(g.closing)
		g.mu.Lock()
		g.stopped = true
		for c := range g.conns {
			_ = c.CloseWithError(closeShutdown, "node shutting down")
		}
		g.mu.Unlock()
		g.fwd.close()
		g.wg.Wait()
		_ = g.tr.Close()
		_ = g.udp.Close()
	})
	return nil
}

func (g *Gateway) track(c *quic.Conn, on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if on {
		g.conns[c] = struct{}{}
	} else {
		delete(g.conns, c)
	}
}

// serveConn tells the connection's kind by its client certificate.
func (g *Gateway) serveConn(ctx context.Context, conn *quic.Conn) {
	g.track(conn, true)
	defer g.track(conn, false)
	peers := conn.ConnectionState().TLS.PeerCertificates
	if len(peers) == 0 {
		g.serveEnrollment(ctx, conn)
		return
	}
	leaf := peers[0]
	if id, err := enroll.AgentIDFromCert(leaf); err == nil {
		g.serveAgent(ctx, conn, id, leaf)
		return
	}
	if isServerCert(leaf) {
		g.serveNode(ctx, conn, leaf)
		return
	}
	g.metrics.ConnsRefused.Add(1)
	_ = conn.CloseWithError(closeRefused, "not an agent or node certificate")
}

func isServerCert(c *x509.Certificate) bool {
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageServerAuth {
			return true
		}
	}
	return false
}

// Sessions describes the agent sessions this node holds.
func (g *Gateway) Sessions() map[string]SessionInfo {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]SessionInfo, len(g.sessions))
	for id, s := range g.sessions {
		out[id] = s.info()
	}
	return out
}

// Kill stops the gateway as a crash would: the socket closes and no
// connection is told (agents find out by their idle timeout or a stateless
// reset from the restarted node).
func (g *Gateway) Kill() {
	g.closeOnce.Do(func() {
		close(g.closing)
		g.mu.Lock()
		g.stopped = true
		g.mu.Unlock()
		_ = g.udp.Close()
		_ = g.tr.Close()
		g.fwd.close()
	})
}
