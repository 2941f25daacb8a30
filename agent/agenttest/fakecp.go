// Package agenttest holds test helpers for the agent: FakeControlPlane, a
// QUIC server that speaks the wire protocol (version 2) the way a
// control-plane node does — enrollment against a real CA, agent sessions
// with a settable configuration feed, and event ingest with a per-agent
// high-water mark — so the link and the daemon can be tested without the
// control plane (which the agent may not import).
//
// It follows protocol/wire's "Connections and streams". Where the contract
// leaves a choice, it does what a gateway written to the contract would: it
// answers every Events frame with EventsAck (the agent's empty opener
// included) and waits for the agent to close a connection after a final
// answer (Enrolled, or an Error to Hello), so the answer is not lost to an
// early CONNECTION_CLOSE.
package agenttest

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// Codes the fake answers with that the control plane defines (in its FSM,
// which the agent may not import).
const (
	CodeTokenInvalid api.Code = "token_invalid"
	CodeRevoked               = api.CodeRevoked
	CodeSequenceGap  api.Code = "sequence_gap"
)

// Config configures a FakeControlPlane; zero fields take defaults.
type Config struct {
	// Addr is the UDP address to listen on. Default 127.0.0.1:0.
	Addr string
	// ClusterID and Epoch name the configuration the fake serves.
	// Defaults "fake-cluster" and 1.
	ClusterID string
	Epoch     uint64
	// NodeID is the node's id in Welcome. Default "fake-node".
	NodeID string
	// GossipKeys is the keyring sent at enrollment and after Welcome.
	// Default: one random 32-byte key.
	GossipKeys [][]byte
	// GossipAddr is announced as the node's gossip address.
	GossipAddr string
	Logger     *slog.Logger
}

// Sent records what the fake sent an agent after a Hello to catch it up.
type Sent struct {
	Session  int
	AgentID  string
	Snapshot bool
	// After is the index the agent's Hello held; Index the index the
	// catch-up brought it to; Changes how many changes it carried.
	After   uint64
	Index   uint64
	Changes int
}

// Batch records one Events frame the fake received.
type Batch struct {
	Session     int
	First, Last uint64
	Count       int
	// Duplicates counts events at or below the high-water mark (dropped).
	Duplicates int
}

type joinToken struct {
	tok     protocol.JoinToken
	expires time.Time
	uses    int
}

type session struct {
	id    int
	agent string
	conn  *quic.Conn
	ctrl  *quic.Stream
	wmu   sync.Mutex
	index uint64 // highest configuration index sent
	push  chan struct{}
}

func (s *session) write(t wire.MsgType, msg any) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return wire.WriteFrame(s.ctrl, t, msg)
}

// FakeControlPlane is a one-node control plane for agent tests.
type FakeControlPlane struct {
	cfg  Config
	log  *slog.Logger
	ca   *testCA
	ln   *quic.Listener
	addr string

	mu              sync.Mutex
	tokens          map[string]*joinToken
	revoked         map[string]bool
	enrollments     []wire.Enroll
	feed            []api.Change
	index           uint64
	epoch           uint64
	highest         map[string]uint64
	events          map[string][]protocol.ContactEvent
	batches         map[string][]Batch
	hellos          []wire.Hello
	sent            []Sent
	statuses        map[string][]wire.Status
	holdAcks        bool
	failBatches     int
	keys            [][]byte
	servers         []wire.ServerInfo
	conns           map[*quic.Conn]struct{}
	sessions        map[*session]struct{}
	sessionSeq      int
	evStreams       map[string]int // open events streams per agent
	customers       map[string]protocol.Profile
	histories       map[string][]protocol.ContactEvent // served with the profile (PutHistory)
	profileRequests int
	profileGets     map[string]int // ProfileGet streams, by customer id
	maxEvStreams    int

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start starts a fake control plane for the test and stops it at cleanup.
func Start(t testing.TB, cfg Config) *FakeControlPlane {
	t.Helper()
	f, err := NewFakeControlPlane(cfg)
	if err != nil {
		t.Fatalf("start fake control plane: %v", err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// NewFakeControlPlane starts a fake control plane listening on cfg.Addr.
func NewFakeControlPlane(cfg Config) (*FakeControlPlane, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.ClusterID == "" {
		cfg.ClusterID = "fake-cluster"
	}
	if cfg.Epoch == 0 {
		cfg.Epoch = 1
	}
	if cfg.NodeID == "" {
		cfg.NodeID = "fake-node"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.GossipKeys) == 0 {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		cfg.GossipKeys = [][]byte{k}
	}
	ca, err := newTestCA(cfg.ClusterID)
	if err != nil {
		return nil, fmt.Errorf("fake control plane: CA: %w", err)
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("fake control plane: address %q: %w", cfg.Addr, err)
	}
	cert, err := ca.serverCert(cfg.NodeID, host)
	if err != nil {
		return nil, fmt.Errorf("fake control plane: server certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	tlsConf := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		NextProtos:   []string{wire.ALPN},
		Certificates: []tls.Certificate{cert},
		// Enrollment connections come without a certificate.
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  pool,
	}
	ln, err := quic.ListenAddr(cfg.Addr, tlsConf, &quic.Config{
		KeepAlivePeriod: time.Second,
		MaxIdleTimeout:  10 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("fake control plane: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &FakeControlPlane{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "fakecp"),
		ca:        ca,
		ln:        ln,
		addr:      ln.Addr().String(),
		tokens:    map[string]*joinToken{},
		revoked:   map[string]bool{},
		epoch:     cfg.Epoch,
		highest:   map[string]uint64{},
		events:    map[string][]protocol.ContactEvent{},
		batches:   map[string][]Batch{},
		statuses:  map[string][]wire.Status{},
		keys:      cfg.GossipKeys,
		conns:     map[*quic.Conn]struct{}{},
		sessions:  map[*session]struct{}{},
		evStreams: map[string]int{},
		ctx:       ctx,
		cancel:    cancel,
	}
	f.servers = []wire.ServerInfo{{ID: cfg.NodeID, QUICAddr: f.addr, GossipAddr: cfg.GossipAddr}}
	f.wg.Add(1)
	go f.accept()
	return f, nil
}

// Addr is the QUIC address agents dial.
func (f *FakeControlPlane) Addr() string { return f.addr }

// ClusterID is the cluster the fake's configuration belongs to.
func (f *FakeControlPlane) ClusterID() string { return f.cfg.ClusterID }

// CAFingerprint is the SHA-256 of the fake cluster CA's DER.
func (f *FakeControlPlane) CAFingerprint() [32]byte { return protocol.FingerprintCert(f.ca.der) }

// Close stops the fake and closes every connection.
func (f *FakeControlPlane) Close() error {
	f.cancel()
	err := f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		_ = c.CloseWithError(0, "fake control plane closing")
	}
	f.mu.Unlock()
	f.wg.Wait()
	return err
}

// JoinToken issues a join token valid for ttl (negative: already expired)
// and uses enrollments.
func (f *FakeControlPlane) JoinToken(ttl time.Duration, uses int) string {
	tok, err := protocol.NewJoinToken(rand.Reader, f.CAFingerprint())
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	f.mu.Lock()
	f.tokens[tok.ID] = &joinToken{tok: tok, expires: time.Now().Add(ttl), uses: uses}
	f.mu.Unlock()
	return tok.String()
}

// Enrollments returns the Enroll requests the fake accepted (tokens blanked).
func (f *FakeControlPlane) Enrollments() []wire.Enroll {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.enrollments)
}

// Revoke refuses the agent from now on and cuts its connections.
func (f *FakeControlPlane) Revoke(agentID string) {
	f.mu.Lock()
	f.revoked[agentID] = true
	var cut []*session
	for s := range f.sessions {
		if s.agent == agentID {
			cut = append(cut, s)
		}
	}
	f.mu.Unlock()
	for _, s := range cut {
		_ = s.write(wire.MsgError, &wire.Error{Code: CodeRevoked, Message: "agent revoked"})
		_ = s.conn.CloseWithError(0, "revoked")
	}
}

// Publish appends changes to the configuration feed, numbering them from
// the feed's index on, pushes them to every session and returns the new
// index.
func (f *FakeControlPlane) Publish(changes ...api.Change) uint64 {
	f.mu.Lock()
	for _, c := range changes {
		f.index++
		c.Index = f.index
		f.feed = append(f.feed, c)
	}
	idx := f.index
	f.notifyLocked()
	f.mu.Unlock()
	return idx
}

// Put publishes one document (doc is marshalled as JSON; kind and id are
// added to it) and returns its index.
func (f *FakeControlPlane) Put(kind, id string, doc map[string]any) uint64 {
	d := map[string]any{}
	for k, v := range doc {
		d[k] = v
	}
	d["kind"], d["id"] = kind, id
	b, err := json.Marshal(d)
	if err != nil {
		panic(err)
	}
	return f.Publish(api.Change{Op: api.OpPut, Kind: kind, ID: id, Doc: b})
}

// Delete publishes the deletion of a document and returns its index.
func (f *FakeControlPlane) Delete(kind, id string) uint64 {
	return f.Publish(api.Change{Op: api.OpDelete, Kind: kind, ID: id})
}

// Index is the feed's last index.
func (f *FakeControlPlane) Index() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.index
}

// SetEpoch moves the fake to another epoch (a restored cluster): agents of
// the old epoch get a snapshot at their next Hello. Connected agents are
// cut so that they say Hello again.
func (f *FakeControlPlane) SetEpoch(epoch uint64) {
	f.mu.Lock()
	f.epoch = epoch
	f.mu.Unlock()
	f.DropConnections()
}

// SetKeyring replaces the gossip keys and pushes them to every session.
func (f *FakeControlPlane) SetKeyring(keys [][]byte) {
	f.mu.Lock()
	f.keys = keys
	var all []*session
	for s := range f.sessions {
		all = append(all, s)
	}
	f.mu.Unlock()
	for _, s := range all {
		_ = s.write(wire.MsgKeyring, &wire.Keyring{Keys: keys})
	}
}

// SetServers replaces the server list announced in Welcome and Enrolled.
func (f *FakeControlPlane) SetServers(servers []wire.ServerInfo) {
	f.mu.Lock()
	f.servers = servers
	f.mu.Unlock()
}

// HoldAcks makes the fake commit batches (the high-water mark moves) but
// not answer them, as when a node commits and dies before acknowledging.
func (f *FakeControlPlane) HoldAcks(hold bool) {
	f.mu.Lock()
	f.holdAcks = hold
	f.mu.Unlock()
}

// FailNextBatches answers the next n non-empty batches with Error
// (unavailable), without committing them, and closes their events streams.
func (f *FakeControlPlane) FailNextBatches(n int) {
	f.mu.Lock()
	f.failBatches = n
	f.mu.Unlock()
}

// SetHighestSeq sets an agent's high-water mark, as if the cluster had
// committed its events through seq.
func (f *FakeControlPlane) SetHighestSeq(agentID string, seq uint64) {
	f.mu.Lock()
	f.highest[agentID] = seq
	f.mu.Unlock()
}

// DropConnections closes every connection, as a node restart or a network
// cut would.
func (f *FakeControlPlane) DropConnections() {
	f.mu.Lock()
	var all []*quic.Conn
	for c := range f.conns {
		all = append(all, c)
	}
	f.mu.Unlock()
	for _, c := range all {
		_ = c.CloseWithError(0x100, "connection dropped by the test")
	}
}

// Hellos returns every Hello received, in order.
func (f *FakeControlPlane) Hellos() []wire.Hello {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.hellos)
}

// Sent returns what the fake sent to catch agents up after each Hello.
func (f *FakeControlPlane) Sent() []Sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent)
}

// Sessions is the number of agent sessions open now.
func (f *FakeControlPlane) Sessions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sessions)
}

// Events returns the events the fake committed for an agent, in order.
func (f *FakeControlPlane) Events(agentID string) []protocol.ContactEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events[agentID])
}

// HighestSeq is the agent's high-water mark.
func (f *FakeControlPlane) HighestSeq(agentID string) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.highest[agentID]
}

// Batches returns the non-empty Events frames received from an agent.
func (f *FakeControlPlane) Batches(agentID string) []Batch {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.batches[agentID])
}

// Statuses returns the Status frames received from an agent.
func (f *FakeControlPlane) Statuses(agentID string) []wire.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.statuses[agentID])
}

// MaxConcurrentEventStreams is the most events streams one agent ever had
// open at once (the contract says one).
func (f *FakeControlPlane) MaxConcurrentEventStreams() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxEvStreams
}

func (f *FakeControlPlane) notifyLocked() {
	for s := range f.sessions {
		select {
		case s.push <- struct{}{}:
		default:
		}
	}
}

func (f *FakeControlPlane) accept() {
	defer f.wg.Done()
	for {
		conn, err := f.ln.Accept(f.ctx)
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns[conn] = struct{}{}
		f.mu.Unlock()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer func() {
				f.mu.Lock()
				delete(f.conns, conn)
				f.mu.Unlock()
				_ = conn.CloseWithError(0, "")
			}()
			if len(conn.ConnectionState().TLS.PeerCertificates) == 0 {
				f.serveEnrollment(conn)
				return
			}
			f.serveSession(conn)
		}()
	}
}

// closeStream ends both directions of a stream.
func closeStream(s *quic.Stream) {
	s.CancelRead(0)
	_ = s.Close()
}

// awaitClose gives the agent time to read a final answer and close the
// connection itself.
func awaitClose(conn *quic.Conn) {
	select {
	case <-conn.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

func (f *FakeControlPlane) serveEnrollment(conn *quic.Conn) {
	ctx, cancel := context.WithTimeout(conn.Context(), 5*time.Second)
	defer cancel()
	s, err := conn.AcceptStream(ctx)
	if err != nil {
		return
	}
	defer closeStream(s)
	_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
	fr, err := wire.ReadFrame(s, 1<<20)
	if err != nil {
		return
	}
	var answer any
	typ := wire.MsgEnrolled
	var req wire.Enroll
	if fr.Type != wire.MsgEnroll {
		typ, answer = wire.MsgError, &wire.Error{Code: api.CodeBadRequest, Message: "expected enroll"}
	} else if err := fr.Decode(&req); err != nil {
		typ, answer = wire.MsgError, &wire.Error{Code: api.CodeBadRequest, Message: err.Error()}
	} else if e, werr := f.enroll(req); werr != nil {
		typ, answer = wire.MsgError, werr
	} else {
		answer = e
	}
	if err := wire.WriteFrame(s, typ, answer); err != nil {
		return
	}
	_ = s.Close()
	awaitClose(conn)
}

func (f *FakeControlPlane) enroll(req wire.Enroll) (*wire.Enrolled, *wire.Error) {
	if req.ProtocolVersion < 2 {
		return nil, &wire.Error{Code: api.CodeBadRequest, Message: "protocol version 2 or later is needed"}
	}
	if !protocol.ValidAgentID(req.AgentID) {
		return nil, &wire.Error{Code: api.CodeInvalidField, Message: "invalid agent id"}
	}
	pub, err := parsePublicKey(req.PublicKey)
	if err != nil {
		return nil, &wire.Error{Code: api.CodeInvalidField, Message: err.Error()}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	bad := &wire.Error{Code: CodeTokenInvalid, Message: "the join token is unknown, expired or used up"}
	tok, err := protocol.ParseJoinToken(req.Token)
	if err != nil {
		return nil, bad
	}
	jt := f.tokens[tok.ID]
	if jt == nil || subtle.ConstantTimeCompare([]byte(jt.tok.SecretHash()), []byte(tok.SecretHash())) != 1 ||
		!time.Now().Before(jt.expires) || jt.uses <= 0 {
		return nil, bad
	}
	if f.revoked[req.AgentID] {
		return nil, &wire.Error{Code: CodeRevoked, Message: "agent revoked"}
	}
	der, err := f.ca.issueAgent(req.AgentID, pub)
	if err != nil {
		return nil, &wire.Error{Code: api.CodeInternal, Message: err.Error()}
	}
	jt.uses--
	req.Token = ""
	f.enrollments = append(f.enrollments, req)
	return &wire.Enrolled{
		ProtocolVersion: wire.ProtocolVersion,
		ClusterID:       f.cfg.ClusterID,
		Certificate:     der,
		CA:              f.ca.der,
		GossipKeys:      f.keys,
		Servers:         slices.Clone(f.servers),
	}, nil
}

func (f *FakeControlPlane) serveSession(conn *quic.Conn) {
	agent, err := agentIDOf(conn.ConnectionState().TLS.PeerCertificates[0])
	if err != nil {
		return
	}
	actx, cancel := context.WithTimeout(conn.Context(), 5*time.Second)
	ctrl, err := conn.AcceptStream(actx)
	cancel()
	if err != nil {
		return
	}
	defer closeStream(ctrl)
	_ = ctrl.SetReadDeadline(time.Now().Add(5 * time.Second))
	fr, err := wire.ReadFrame(ctrl, 1<<20)
	if err != nil {
		return
	}
	_ = ctrl.SetReadDeadline(time.Time{})
	var hello wire.Hello
	refuse := func(code api.Code, msg string) {
		_ = wire.WriteFrame(ctrl, wire.MsgError, &wire.Error{Code: code, Message: msg})
		_ = ctrl.Close()
		awaitClose(conn)
	}
	if fr.Type != wire.MsgHello || fr.Decode(&hello) != nil {
		refuse(api.CodeBadRequest, "expected hello")
		return
	}
	f.mu.Lock()
	f.hellos = append(f.hellos, hello)
	revoked := f.revoked[agent]
	f.mu.Unlock()
	switch {
	case revoked:
		refuse(CodeRevoked, "agent revoked")
		return
	case hello.AgentID != agent:
		refuse(api.CodeUnauthorized, "hello names another agent than the certificate")
		return
	case hello.ProtocolVersion < 2:
		refuse(api.CodeBadRequest, "protocol version 2 or later is needed")
		return
	}

	f.mu.Lock()
	f.sessionSeq++
	s := &session{id: f.sessionSeq, agent: agent, conn: conn, ctrl: ctrl, push: make(chan struct{}, 1)}
	welcome := wire.Welcome{
		ProtocolVersion: wire.ProtocolVersion,
		NodeID:          f.cfg.NodeID,
		ClusterID:       f.cfg.ClusterID,
		Epoch:           f.epoch,
		HighestSeq:      f.highest[agent],
		Servers:         slices.Clone(f.servers),
	}
	keys := f.keys
	f.sessions[s] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.sessions, s)
		f.mu.Unlock()
	}()
	if s.write(wire.MsgWelcome, &welcome) != nil || s.write(wire.MsgKeyring, &wire.Keyring{Keys: keys}) != nil {
		return
	}
	if f.catchUp(s, hello) != nil {
		return
	}

	ctx, cancelSession := context.WithCancel(conn.Context())
	defer cancelSession()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(2)
	go func() { // push changes as they are published
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.push:
				if f.pushChanges(s) != nil {
					_ = conn.CloseWithError(1, "push failed")
					return
				}
			}
		}
	}()
	go func() {
		defer wg.Done()
		f.acceptEventStreams(ctx, conn, agent, s.id)
	}()
	for {
		fr, err := wire.ReadFrame(ctrl, 1<<20)
		if err != nil {
			_ = conn.CloseWithError(0, "control stream ended")
			return
		}
		if fr.Type == wire.MsgStatus {
			var st wire.Status
			if fr.Decode(&st) == nil {
				f.mu.Lock()
				f.statuses[agent] = append(f.statuses[agent], st)
				f.mu.Unlock()
			}
		}
	}
}

// catchUp brings an agent from its Hello to the present: changes after its
// index when it holds this cluster's epoch, a snapshot otherwise.
func (f *FakeControlPlane) catchUp(s *session, hello wire.Hello) error {
	f.mu.Lock()
	rec := Sent{Session: s.id, AgentID: s.agent, After: hello.Index, Index: f.index}
	var msg any
	typ := wire.MsgChanges
	if hello.ClusterID != f.cfg.ClusterID || hello.Epoch != f.epoch {
		rec.Snapshot = true
		typ = wire.MsgSnapshot
		msg = &wire.Snapshot{ClusterID: f.cfg.ClusterID, Epoch: f.epoch, Index: f.index, Objects: f.objectsLocked()}
		s.index = f.index
	} else {
		var changes []api.Change
		for _, c := range f.feed {
			if c.Index > hello.Index {
				changes = append(changes, c)
			}
		}
		rec.Changes = len(changes)
		s.index = max(hello.Index, f.index)
		if len(changes) > 0 {
			msg = &wire.Changes{ClusterID: f.cfg.ClusterID, Epoch: f.epoch, Index: f.index, Changes: changes}
		} else {
			rec.Index = hello.Index
		}
	}
	f.sent = append(f.sent, rec)
	f.mu.Unlock()
	if msg == nil {
		return nil
	}
	return s.write(typ, msg)
}

// pushChanges sends the changes published since the session's index.
func (f *FakeControlPlane) pushChanges(s *session) error {
	f.mu.Lock()
	var changes []api.Change
	for _, c := range f.feed {
		if c.Index > s.index {
			changes = append(changes, c)
		}
	}
	idx, epoch := f.index, f.epoch
	if len(changes) > 0 {
		s.index = idx
	}
	f.mu.Unlock()
	if len(changes) == 0 {
		return nil
	}
	return s.write(wire.MsgChanges, &wire.Changes{ClusterID: f.cfg.ClusterID, Epoch: epoch, Index: idx, Changes: changes})
}

// objectsLocked replays the feed into the current objects.
func (f *FakeControlPlane) objectsLocked() []api.Object {
	objs := map[string]api.Object{}
	for _, c := range f.feed {
		k := c.Kind + "/" + c.ID
		if c.Op == api.OpDelete {
			delete(objs, k)
			continue
		}
		objs[k] = api.Object{Kind: c.Kind, ID: c.ID, Index: c.Index, Doc: c.Doc}
	}
	out := make([]api.Object, 0, len(objs))
	for _, o := range objs {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind+"/"+out[i].ID < out[j].Kind+"/"+out[j].ID })
	return out
}

func (f *FakeControlPlane) acceptEventStreams(ctx context.Context, conn *quic.Conn, agent string, session int) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		s, err := conn.AcceptStream(ctx)
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fr, err := wire.ReadFrame(s, wire.MaxFrame)
			if err != nil {
				s.CancelRead(0)
				_ = s.Close()
				return
			}
			switch fr.Type {
			case wire.MsgProfileGet, wire.MsgPrefetch:
				f.serveProfiles(s, fr)
			default:
				f.serveEvents(s, fr, agent, session)
			}
		}()
	}
}

// PutCustomer makes the fake serve a customer profile (ProfileGet, and
// Prefetch of its region).
func (f *FakeControlPlane) PutCustomer(p protocol.Profile) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.customers == nil {
		f.customers = map[string]protocol.Profile{}
	}
	f.customers[p.ID] = p
}

// PutHistory makes the fake serve evs as customer id's contact history
// with its profile, as the control plane sends the ledger's recent
// contacts (those of other agents too).
func (f *FakeControlPlane) PutHistory(id string, evs ...protocol.ContactEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.histories == nil {
		f.histories = map[string][]protocol.ContactEvent{}
	}
	f.histories[id] = append([]protocol.ContactEvent{}, evs...)
}

// history is what the fake sends with id's profile (f.mu held).
func (f *FakeControlPlane) history(id string) []protocol.ContactEvent {
	return append([]protocol.ContactEvent{}, f.histories[id]...)
}

// serveProfiles answers a ProfileGet or Prefetch stream.
func (f *FakeControlPlane) serveProfiles(s *quic.Stream, fr wire.Frame) {
	defer func() {
		_ = s.Close()
		_, _ = io.Copy(io.Discard, s)
	}()
	f.mu.Lock()
	f.profileRequests++
	customers := make([]protocol.Profile, 0, len(f.customers))
	histories := map[string][]protocol.ContactEvent{}
	for _, p := range f.customers {
		customers = append(customers, p)
		histories[p.ID] = f.history(p.ID)
	}
	f.mu.Unlock()
	sort.Slice(customers, func(i, j int) bool { return customers[i].ID < customers[j].ID })
	if fr.Type == wire.MsgProfileGet {
		var req wire.ProfileGet
		_ = fr.Decode(&req)
		f.mu.Lock()
		if f.profileGets == nil {
			f.profileGets = map[string]int{}
		}
		f.profileGets[req.ID]++
		f.mu.Unlock()
		for _, p := range customers {
			if p.ID == req.ID {
				_ = wire.WriteFrame(s, wire.MsgProfile, &wire.Profile{Profile: p, Contacts: histories[p.ID]})
				return
			}
		}
		_ = wire.WriteFrame(s, wire.MsgError, &wire.Error{Code: api.CodeNotFound, Message: "no such customer"})
		return
	}
	var req wire.Prefetch
	_ = fr.Decode(&req)
	var region []protocol.Profile
	for _, p := range customers {
		if p.Region == req.Region {
			region = append(region, p)
		}
	}
	if req.Count {
		if err := wire.WriteFrame(s, wire.MsgProfiles, &wire.Profiles{Profiles: []wire.Profile{}, Total: len(region)}); err != nil {
			return
		}
	}
	limit := req.Limit
	if limit <= 0 {
		limit = 500
	}
	i := sort.Search(len(region), func(i int) bool { return region[i].ID > req.After })
	for {
		page := wire.Profiles{Profiles: []wire.Profile{}}
		for ; i < len(region) && len(page.Profiles) < limit; i++ {
			page.Profiles = append(page.Profiles, wire.Profile{Profile: region[i], Contacts: histories[region[i].ID]})
		}
		if i < len(region) {
			page.Next = region[i-1].ID
		} else {
			page.Done = true
		}
		if err := wire.WriteFrame(s, wire.MsgProfiles, &page); err != nil || page.Done {
			return
		}
	}
}

// ProfileGets counts the ProfileGet streams served for customer id (a
// fetch on a miss), whatever prefetches run meanwhile.
func (f *FakeControlPlane) ProfileGets(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.profileGets[id]
}

// ProfileRequests counts the ProfileGet and Prefetch streams served.
func (f *FakeControlPlane) ProfileRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.profileRequests
}

func (f *FakeControlPlane) serveEvents(s *quic.Stream, fr wire.Frame, agent string, session int) {
	// The fake does not cancel reading: it waits for the agent to end its
	// side (FIN or reset), so an agent that leaks streams runs out of the
	// connection's stream credit (100) as it would against a gateway that
	// behaves the same way.
	defer func() {
		_ = s.Close()
		_, _ = io.Copy(io.Discard, s)
	}()
	f.mu.Lock()
	f.evStreams[agent]++
	f.maxEvStreams = max(f.maxEvStreams, f.evStreams[agent])
	f.mu.Unlock()
	// The stream stops counting as open once the fake decides to end it:
	// before the terminal Error frame, which the agent may answer with a
	// new stream before this goroutine has returned.
	ended := false
	end := func() {
		if !ended {
			ended = true
			f.mu.Lock()
			f.evStreams[agent]--
			f.mu.Unlock()
		}
	}
	defer end()
	fail := func(e *wire.Error) {
		end()
		_ = wire.WriteFrame(s, wire.MsgError, e)
	}
	first := true
	for read := false; ; read = true {
		if read {
			var err error
			if fr, err = wire.ReadFrame(s, wire.MaxFrame); err != nil {
				return
			}
		}
		var batch wire.Events
		switch fr.Type {
		case wire.MsgEventsBinary:
			evs, err := wire.DecodeEventsBinary(agent, fr.Payload)
			if err != nil {
				fail(&wire.Error{Code: api.CodeBadRequest, Message: err.Error()})
				return
			}
			batch.Events = evs
		case wire.MsgEvents:
			if err := fr.Decode(&batch); err != nil {
				fail(&wire.Error{Code: api.CodeBadRequest, Message: err.Error()})
				return
			}
		default:
			fail(&wire.Error{Code: api.CodeBadRequest, Message: "expected events"})
			return
		}
		if first {
			first = false
			if err := wire.WriteFrame(s, wire.MsgEventsAck, &wire.EventsAck{HighestSeq: f.HighestSeq(agent)}); err != nil {
				return
			}
		}
		ack, send, werr := f.commit(agent, session, batch.Events)
		if werr != nil {
			fail(werr)
			return
		}
		if send {
			if err := wire.WriteFrame(s, wire.MsgEventsAck, &wire.EventsAck{HighestSeq: ack}); err != nil {
				return
			}
		}
	}
}

// commit applies a batch the way the control plane's ledger does: events at
// or below the high-water mark are dropped, a gap is refused.
func (f *FakeControlPlane) commit(agent string, session int, evs []protocol.ContactEvent) (uint64, bool, *wire.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(evs) > 0 && f.failBatches > 0 {
		f.failBatches--
		return 0, false, &wire.Error{Code: api.CodeUnavailable, Message: "injected failure"}
	}
	hs := f.highest[agent]
	if len(evs) > 0 {
		for i, e := range evs {
			if e.AgentID != agent {
				return 0, false, &wire.Error{Code: api.CodeUnauthorized, Message: "event of another agent"}
			}
			if i > 0 && e.Seq != evs[i-1].Seq+1 {
				return 0, false, &wire.Error{Code: api.CodeBadRequest, Message: "batch not in sequence"}
			}
		}
		if evs[0].Seq > hs+1 {
			return 0, false, &wire.Error{Code: CodeSequenceGap, Message: fmt.Sprintf("batch starts at %d, the cluster holds %d", evs[0].Seq, hs)}
		}
		b := Batch{Session: session, First: evs[0].Seq, Last: evs[len(evs)-1].Seq, Count: len(evs)}
		for _, e := range evs {
			if e.Seq <= hs {
				b.Duplicates++
				continue
			}
			f.events[agent] = append(f.events[agent], e)
			hs = e.Seq
		}
		f.highest[agent] = hs
		f.batches[agent] = append(f.batches[agent], b)
	}
	if f.holdAcks {
		return 0, false, nil
	}
	return hs, true, nil
}

// WaitFor polls cond every few milliseconds until it holds or timeout
// passes, then fails the test with what.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
