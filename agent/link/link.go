// Package link is the agent's side of the QUIC protocol (protocol/wire,
// version 2): one connection at a time to a control-plane node. It enrolls
// the agent once with a join token and keeps the identity it receives in a
// directory; then, for as long as it runs, it holds an agent session:
//
//   - the control stream: Hello, then Welcome, the gossip keyring and the
//     configuration changes (or a snapshot) the node pushes, applied to the
//     cache in order; the agent reports Status frames on it;
//   - one events stream: the outbox's events in sequence order, several
//     batches in flight, and the node's EventsAck after Raft commit, which
//     is what lets the outbox delete them.
//
// When a connection fails it backs off (with jitter) and tries the next
// known server. It never deletes an event the cluster did not acknowledge,
// and it resends every unacknowledged event on the next events stream.
//
// See DESIGN.md beside this file.
package link

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"touchpoint.dev/touchpoint/agent/cache"
	"touchpoint.dev/touchpoint/agent/outbox"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// Cache is what the link needs of the agent's configuration copy
// (agent/cache): where it stands, and the two ways forward.
type Cache interface {
	Position() cache.Position
	ApplyChanges(pos cache.Position, changes []api.Change) (int, error)
	ApplySnapshot(pos cache.Position, objects []api.Object) (bool, error)
}

// Outbox is what the link needs of the agent's event FIFO (agent/outbox).
type Outbox interface {
	// PendingBinary returns, in order, at most max unacknowledged events
	// after a sequence in protocol's binary form, concatenated, with their
	// number and the first and last sequence.
	PendingBinary(after uint64, max int) (n int, events []byte, first, last uint64, err error)
	Ack(through uint64) error
	Stats() outbox.Stats
	// SkipPast renumbers the waiting events after highest when the
	// cluster holds more of this agent's events than the outbox assigned.
	SkipPast(highest uint64) (int, error)
	// Appended is closed once events appended after the call are visible
	// to Pending.
	Appended() <-chan struct{}
}

// Timing holds the link's knobs; zero fields take the defaults.
type Timing struct {
	// KeepAlivePeriod and MaxIdleTimeout configure QUIC: a dead node is
	// noticed after MaxIdleTimeout without packets. Defaults 2s and 10s.
	KeepAlivePeriod time.Duration
	MaxIdleTimeout  time.Duration
	// DialTimeout bounds a server's name lookup and handshake together,
	// and the wait for the node's first answer (Welcome, Enrolled).
	// Default 5s.
	DialTimeout time.Duration
	// BackoffMin and BackoffMax bound the wait between connection
	// attempts; it doubles per failure, with jitter. Defaults 100ms, 5s.
	BackoffMin time.Duration
	BackoffMax time.Duration
	// RefusedBackoff is the wait after the cluster refused the agent
	// (revoked, unauthorized). Default 1m.
	RefusedBackoff time.Duration
	// StatusEvery is the period of Status frames (also sent when the
	// outbox fills or drains). Default 2s.
	StatusEvery time.Duration
	// BatchMax is the most events in one Events frame; Window the most
	// unacknowledged batches. Defaults 2000 and 4.
	BatchMax int
	Window   int
	// EventsPoll is how long the events stream waits for the outbox's
	// append notification before looking again. Default 1s.
	EventsPoll time.Duration
}

func (t *Timing) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.KeepAlivePeriod, 2*time.Second)
	def(&t.MaxIdleTimeout, 10*time.Second)
	def(&t.DialTimeout, 5*time.Second)
	def(&t.BackoffMin, 100*time.Millisecond)
	def(&t.BackoffMax, 5*time.Second)
	def(&t.RefusedBackoff, time.Minute)
	def(&t.StatusEvery, 2*time.Second)
	def(&t.EventsPoll, time.Second)
	if t.BackoffMax < t.BackoffMin {
		t.BackoffMax = t.BackoffMin
	}
	if t.BatchMax <= 0 {
		t.BatchMax = 2000
	}
	if t.Window <= 0 {
		t.Window = 4
	}
}

// Config configures a link.
type Config struct {
	// AgentID, Site, Channel and Version describe the agent in Hello and
	// Enroll.
	AgentID string
	Site    string
	Channel string
	Version string
	// Servers are control-plane QUIC addresses (host:port) from the
	// command line; servers the cluster announces are added to them.
	Servers []string
	// JoinToken enrolls an agent that has no identity yet; it is ignored
	// once the agent holds one.
	JoinToken string
	// Dir keeps the agent's identity (key, certificates, gossip keys,
	// known servers, QUIC reset key).
	Dir string
	// GossipAddr is reported at enrollment (may be empty).
	GossipAddr string
	Logger     *slog.Logger
	Now        func() time.Time
	// OnKeyring receives the gossip keys, primary first: when Run starts
	// with keys on disk, at enrollment and on every Keyring frame. It must
	// not block for long.
	OnKeyring func(keys [][]byte)
	// OnServers receives the cluster's servers: when Run starts with a
	// list on disk, at enrollment and on every Welcome. It must not block
	// for long.
	OnServers func(servers []wire.ServerInfo)
	// OnOfferVolumes receives the presentations of the offers with a
	// volumeCap, on every OfferVolumes frame. It must not block for long.
	OnOfferVolumes func(volumes map[string]int64)
	// OnOwnContacts receives the highest sequence of this agent's own
	// events in a Contacts frame: the node applied them, and the next
	// OfferVolumes frame counts them. It must not block for long.
	OnOwnContacts func(through uint64)
	// Region is the region whose customer profiles the agent prefetches
	// and keeps; UnregionedMax is the most customers without a region it
	// prefetches (more: on demand). Default 50,000; negative: none.
	Region        string
	UnregionedMax int
	// Resolver looks up the servers' names (nil: the system's). Lookups
	// are cancelled with the dial: a resolver that does not answer, as at
	// an edge site whose uplink is down, holds neither a reconnect attempt
	// past DialTimeout nor the agent's shutdown.
	Resolver *net.Resolver
	Timing
}

// Connection states.
const (
	StateEnrolling  = "enrolling"
	StateConnecting = "connecting"
	StateConnected  = "connected"
	StateOffline    = "offline"
)

// Status describes the link.
type Status struct {
	// State is enrolling, connecting, connected or offline (waiting to
	// retry after a failure, or not running).
	State     string    `json:"state"`
	Connected bool      `json:"connected"`
	Since     time.Time `json:"since"`
	// Server is the address of the node being dialled or connected; Node
	// its id from Welcome.
	Server    string `json:"server,omitempty"`
	Node      string `json:"node,omitempty"`
	ClusterID string `json:"clusterId,omitempty"`
	// Index is the configuration index the cache holds.
	Index           uint64 `json:"index"`
	LastError       string `json:"lastError,omitempty"`
	LastChangeError string `json:"lastChangeError,omitempty"`
	// EventsSent counts events written to events streams (resends
	// included); EventsAcked counts events the cluster acknowledged since
	// the link started; AckedSeq is the highest acknowledged sequence.
	EventsSent  uint64 `json:"eventsSent"`
	EventsAcked uint64 `json:"eventsAcked"`
	AckedSeq    uint64 `json:"ackedSeq"`
	// Sessions counts sessions established (welcomed) since start.
	Sessions uint64 `json:"sessions"`
}

// Link is the agent's connection to the control plane.
type Link struct {
	cfg   Config
	log   *slog.Logger
	cache Cache
	ob    Outbox
	token *protocol.JoinToken // set only when the agent must enroll

	// revoked is set while the cluster's last answer was that this agent
	// is revoked (Revoked).
	revoked atomic.Bool

	mu       sync.Mutex
	id       *identity // nil until enrolled
	keys     [][]byte
	known    []wire.ServerInfo // what the cluster last announced
	next     int               // index into dialList of the next server to try
	st       Status
	running  bool
	closed   bool
	cancel   context.CancelFunc
	finished chan struct{}

	eventsSent  atomic.Uint64
	eventsAcked atomic.Uint64
	ackMu       sync.Mutex // serializes outbox acks and ackedSeq
	ackedSeq    atomic.Uint64
	// acked is signalled (non-blocking) after every outbox ack.
	acked chan struct{}
	// applied is signalled (non-blocking) after every change page or
	// snapshot the cache applied: the next Status reports it soon, so
	// that an erasure's confirmation means the agent has applied it.
	applied chan struct{}

	// Customers (profiles.go): the cache's profile side, the session's
	// connection, customers fetched in this session, and what was
	// prefetched (cluster/epoch and snapshot generation).
	profiles  Profiles
	conn      *quic.Conn
	refreshed map[string]bool
	// prefetchedRegions are the regions prefetched in this session.
	prefetchedRegions map[string]bool
	prefetched        string
	prefetchedGen     uint64
	generation        uint64 // counts snapshots installed
}

// New checks the configuration and loads the identity from cfg.Dir. An
// agent without an identity needs a join token; an agent with one ignores
// the token (a spent or expired token must not stop a restarted agent).
func New(cfg Config, c Cache, ob Outbox) (*Link, error) {
	cfg.Timing.setDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if c == nil || ob == nil {
		return nil, errors.New("new link: a cache and an outbox are required")
	}
	if !protocol.ValidAgentID(cfg.AgentID) {
		return nil, fmt.Errorf("new link: invalid agent id %q", cfg.AgentID)
	}
	if cfg.Dir == "" {
		return nil, errors.New("new link: Dir (the identity directory) is required")
	}
	for _, s := range cfg.Servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return nil, fmt.Errorf("new link: control-plane address %q: %w", s, err)
		}
	}
	if cfg.UnregionedMax == 0 {
		cfg.UnregionedMax = defaultUnregionedMax
	}
	l := &Link{
		cfg:   cfg,
		log:   cfg.Logger.With("component", "link"),
		cache: c,
		ob:    ob,
		acked: make(chan struct{}, 1), applied: make(chan struct{}, 1),
	}
	if p, ok := c.(Profiles); ok {
		l.profiles = p
	}
	id, err := loadIdentity(cfg.Dir, cfg.AgentID)
	if err != nil {
		return nil, fmt.Errorf("new link: %w", err)
	}
	token := strings.TrimSpace(cfg.JoinToken)
	switch {
	case id != nil:
		l.id = id
		if err := checkRole(cfg.Dir, role{Site: cfg.Site, Channel: cfg.Channel}); err != nil {
			return nil, fmt.Errorf("new link: %w", err)
		}
		if token != "" {
			l.log.Info("agent is enrolled: join token ignored", "dir", cfg.Dir)
		}
	case token == "":
		return nil, fmt.Errorf("new link: agent %s is not enrolled (no identity in %s) and no join token was given", cfg.AgentID, cfg.Dir)
	default:
		tok, err := protocol.ParseJoinToken(token)
		if err != nil {
			return nil, fmt.Errorf("new link: %w", err)
		}
		l.token = &tok
	}
	if l.keys, err = loadKeys(cfg.Dir); err != nil {
		return nil, fmt.Errorf("new link: %w", err)
	}
	if l.known, err = loadServers(cfg.Dir); err != nil {
		return nil, fmt.Errorf("new link: %w", err)
	}
	if len(cfg.Servers) == 0 && len(l.known) == 0 {
		return nil, errors.New("new link: no control-plane address is known: give at least one")
	}
	l.ackedSeq.Store(ob.Stats().Acked)
	l.st = Status{State: StateOffline, Since: cfg.Now()}
	return l, nil
}

// Enrolled reports whether the agent holds an identity.
func (l *Link) Enrolled() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.id != nil
}

// Run enrolls the agent if it must, then holds a session until ctx ends or
// Close is called; it returns nil then. It returns an error only when the
// cluster refuses the enrollment for good (an invalid, expired or spent
// token; a revoked agent id): its api.Code says why (api.CodeOf). Run may
// be called once.
func (l *Link) Run(ctx context.Context) error {
	l.mu.Lock()
	if l.running || l.closed {
		l.mu.Unlock()
		return errors.New("link: Run called twice or after Close")
	}
	l.running = true
	ctx, cancel := context.WithCancel(ctx)
	l.cancel = cancel
	l.finished = make(chan struct{})
	l.mu.Unlock()
	defer close(l.finished)
	defer cancel()
	defer l.setState(StateOffline, "", "")

	resetKey, err := loadResetKey(l.cfg.Dir)
	if err != nil {
		return fmt.Errorf("link: %w", err)
	}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{})
	if err != nil {
		return fmt.Errorf("link: open UDP socket: %w", err)
	}
	tr := &quic.Transport{Conn: udp, StatelessResetKey: resetKey}
	defer func() {
		_ = tr.Close()
		_ = udp.Close()
	}()

	if !l.Enrolled() {
		if err := l.enroll(ctx, tr); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	} else {
		l.mu.Lock()
		keys, known := l.keys, l.known
		l.mu.Unlock()
		if len(keys) > 0 && l.cfg.OnKeyring != nil {
			l.cfg.OnKeyring(keys)
		}
		if len(known) > 0 && l.cfg.OnServers != nil {
			l.cfg.OnServers(known)
		}
	}
	l.sessions(ctx, tr)
	return nil
}

// Close stops Run and waits for it to return. It is idempotent.
func (l *Link) Close() error {
	l.mu.Lock()
	l.closed = true
	cancel, finished := l.cancel, l.finished
	l.mu.Unlock()
	if cancel != nil {
		cancel()
		<-finished
	}
	return nil
}

// Revoked reports whether the cluster's last answer to this agent was that
// it is revoked: events it takes can never be delivered.
func (l *Link) Revoked() bool { return l.revoked.Load() }

// Status reports the link's state.
func (l *Link) Status() Status {
	l.mu.Lock()
	st := l.st
	l.mu.Unlock()
	st.Index = l.cache.Position().Index
	st.EventsSent = l.eventsSent.Load()
	st.EventsAcked = l.eventsAcked.Load()
	st.AckedSeq = l.ackedSeq.Load()
	return st
}

// setState moves to state; server and node are kept when empty unless the
// state is offline.
func (l *Link) setState(state, server, node string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st.State != state {
		l.st.Since = l.cfg.Now()
	}
	l.st.State = state
	l.st.Connected = state == StateConnected
	switch state {
	case StateOffline:
		l.st.Node = ""
	case StateConnecting, StateEnrolling:
		l.st.Server, l.st.Node = server, ""
	case StateConnected:
		l.st.Server, l.st.Node = server, node
		l.st.Sessions++
	}
}

func (l *Link) setError(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		l.st.LastError = ""
		return
	}
	l.st.LastError = err.Error()
}

// dialListLocked is the order servers are tried in: the command line's,
// then the ones the cluster announced, without duplicates.
func (l *Link) dialListLocked() []string {
	out := slices.Clone(l.cfg.Servers)
	for _, s := range l.known {
		if s.QUICAddr != "" && !slices.Contains(out, s.QUICAddr) {
			out = append(out, s.QUICAddr)
		}
	}
	return out
}

// pickServer returns the server to try now; rotate moves past it.
func (l *Link) pickServer() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	list := l.dialListLocked()
	if len(list) == 0 {
		return ""
	}
	return list[l.next%len(list)]
}

func (l *Link) rotate() {
	l.mu.Lock()
	l.next++
	l.mu.Unlock()
}

// learnServers records the servers the cluster announced, persists them
// when they changed and tells the agent.
func (l *Link) learnServers(servers []wire.ServerInfo) {
	var keep []wire.ServerInfo
	for _, s := range servers {
		if s.QUICAddr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(s.QUICAddr); err != nil {
			l.log.Warn("ignoring a server with a malformed address", "node", s.ID, "addr", s.QUICAddr)
			continue
		}
		keep = append(keep, s)
	}
	if len(keep) == 0 {
		return
	}
	l.mu.Lock()
	changed := !slices.Equal(keep, l.known)
	if changed {
		// Keep trying the server we are on: find it in the new list.
		cur := ""
		if list := l.dialListLocked(); len(list) > 0 {
			cur = list[l.next%len(list)]
		}
		l.known = keep
		if i := slices.Index(l.dialListLocked(), cur); i >= 0 {
			l.next = i
		}
	}
	l.mu.Unlock()
	if changed {
		if err := saveServers(l.cfg.Dir, keep); err != nil {
			l.log.Warn("persist known servers", "error", err)
		}
	}
	if l.cfg.OnServers != nil {
		l.cfg.OnServers(keep)
	}
}

// installKeys persists the gossip keys and tells the agent.
func (l *Link) installKeys(keys [][]byte) error {
	if len(keys) == 0 {
		return errors.New("empty gossip keyring")
	}
	if err := saveKeys(l.cfg.Dir, keys); err != nil {
		return err
	}
	l.mu.Lock()
	l.keys = keys
	l.mu.Unlock()
	if l.cfg.OnKeyring != nil {
		l.cfg.OnKeyring(keys)
	}
	return nil
}
