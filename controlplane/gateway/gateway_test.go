package gateway_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/controlplane/gateway"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// testAgent is a test double of an agent that speaks the wire protocol
// directly, so the gateway is tested without the agent package.
type testAgent struct {
	t    testing.TB
	id   string
	key  *ecdsa.PrivateKey
	cert []byte
	ca   *x509.CertPool
}

func newTestAgent(t testing.TB, id string) *testAgent {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &testAgent{t: t, id: id, key: key}
}

func quicConf() *quic.Config {
	return &quic.Config{KeepAlivePeriod: time.Second, MaxIdleTimeout: 5 * time.Second}
}

// enroll presents token at addr and returns the answer's error code ("" on
// success).
func (a *testAgent) enroll(addr, token string) api.Code {
	a.t.Helper()
	tok, err := protocol.ParseJoinToken(token)
	if err != nil {
		// Still present it: the node must refuse it.
		tok = protocol.JoinToken{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := quic.DialAddr(ctx, addr, &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{wire.ALPN},
		InsecureSkipVerify: true, VerifyPeerCertificate: protocol.VerifyPeerFingerprint(tok.CAFingerprint)}, quicConf())
	if err != nil {
		return "handshake"
	}
	defer conn.CloseWithError(0, "")
	st, err := conn.OpenStreamSync(ctx)
	if err != nil {
		a.t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(a.key.Public())
	if err := wire.WriteFrame(st, wire.MsgEnroll, wire.Enroll{ProtocolVersion: wire.ProtocolVersion, Token: token, AgentID: a.id,
		Site: "sh-01", Channel: "kiosk", Version: "test", PublicKey: pub}); err != nil {
		a.t.Fatal(err)
	}
	_ = st.Close()
	f, err := wire.ReadFrame(st, 0)
	if err != nil {
		a.t.Fatalf("read enrollment answer: %v", err)
	}
	if f.Type == wire.MsgError {
		var e wire.Error
		_ = f.Decode(&e)
		return e.Code
	}
	var out wire.Enrolled
	if err := f.Decode(&out); err != nil {
		a.t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(out.CA)
	if err != nil || protocol.FingerprintCert(out.CA) != tok.CAFingerprint {
		a.t.Fatalf("enrolled with a CA that is not the token's: %v", err)
	}
	a.ca = x509.NewCertPool()
	a.ca.AddCert(ca)
	a.cert = out.Certificate
	if len(out.GossipKeys) == 0 || len(out.Servers) == 0 {
		a.t.Errorf("enrollment answer lacks gossip keys or servers: %+v", out)
	}
	return ""
}

// session is a test agent's connection.
type session struct {
	conn *quic.Conn
	ctl  *quic.Stream
}

func (a *testAgent) dial(addr string) (*session, error) {
	return a.dialVia(nil, addr, quicConf())
}

// dialVia dials through tr (a fresh socket when nil) with conf.
func (a *testAgent) dialVia(tr *quic.Transport, addr string, qc *quic.Config) (*session, error) {
	host, _, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conf := &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{wire.ALPN}, RootCAs: a.ca, ServerName: host}
	if a.cert != nil {
		conf.Certificates = []tls.Certificate{{Certificate: [][]byte{a.cert}, PrivateKey: a.key}}
	}
	var conn *quic.Conn
	var err error
	if tr == nil {
		conn, err = quic.DialAddr(ctx, addr, conf, qc)
	} else {
		var ua *net.UDPAddr
		if ua, err = net.ResolveUDPAddr("udp", addr); err != nil {
			return nil, err
		}
		conn, err = tr.Dial(ctx, ua, conf, qc)
	}
	if err != nil {
		return nil, err
	}
	st, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	return &session{conn: conn, ctl: st}, nil
}

func (s *session) close() { _ = s.conn.CloseWithError(0, "") }

// open dials addr and says hello holding nothing; the session closes at
// cleanup.
func (a *testAgent) open(t testing.TB, addr string) *session {
	t.Helper()
	s, err := a.dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	if _, code, err := s.hello(a.id, "", 0, 0); err != nil || code != "" {
		t.Fatalf("hello: %v %s", err, code)
	}
	return s
}

// hello opens the session and returns the welcome (or the error frame's
// code).
func (s *session) hello(id string, cluster string, epoch, index uint64) (wire.Welcome, api.Code, error) {
	if err := wire.WriteFrame(s.ctl, wire.MsgHello, wire.Hello{ProtocolVersion: wire.ProtocolVersion, AgentID: id, Site: "sh-01",
		Channel: "kiosk", Version: "test", ClusterID: cluster, Epoch: epoch, Index: index}); err != nil {
		return wire.Welcome{}, "", err
	}
	f, err := wire.ReadFrame(s.ctl, 0)
	if err != nil {
		return wire.Welcome{}, "", err
	}
	if f.Type == wire.MsgError {
		var e wire.Error
		_ = f.Decode(&e)
		return wire.Welcome{}, e.Code, nil
	}
	var w wire.Welcome
	err = f.Decode(&w)
	return w, "", err
}

// next reads the next control frame, skipping keyrings, within d.
func (s *session) next(d time.Duration) (wire.Frame, error) {
	_ = s.ctl.SetReadDeadline(time.Now().Add(d))
	defer s.ctl.SetReadDeadline(time.Time{})
	for {
		f, err := wire.ReadFrame(s.ctl, 0)
		if err != nil || f.Type != wire.MsgKeyring {
			return f, err
		}
	}
}

func mintToken(t testing.TB, cl *api.Client, ttl string, uses int) string {
	t.Helper()
	res, err := cl.JoinToken(context.Background(), api.JoinTokenRequest{TTL: ttl, Uses: uses})
	if err != nil {
		t.Fatal(err)
	}
	return res.Token
}

const offerDoc = "kind: Offer\nid: %s\nname: test offer\ncategory: retention\nvalue: 60\ncost: 5\nchannels: [kiosk, ivr]\n"

func applyOffer(t *testing.T, cl *api.Client, id string) uint64 {
	t.Helper()
	res, err := cl.Apply(context.Background(), fmt.Appendf(nil, offerDoc, id), "application/yaml")
	if err != nil {
		t.Fatal(err)
	}
	return res.Index
}

func waitGateways(t testing.TB, c *cptest.Cluster) {
	t.Helper()
	for _, n := range c.Nodes {
		select {
		case <-n.Server.Gateway().Ready():
		case <-time.After(20 * time.Second):
			t.Fatalf("node %s: gateway not serving", n.ID)
		}
	}
	// Followers forward to the leader's gateway once it has registered it.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		nodes, _ := c.Store(c.Leader()).FSM().Nodes()
		keys, _ := c.Store(c.Leader()).FSM().GossipKeys()
		ok := len(keys) > 0
		for _, n := range c.Nodes {
			ok = ok && nodes[n.ID].QUICAddr != ""
		}
		if ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("gateways did not register")
}

func TestGateway_EnrollmentRefusesBadSpentAndExpiredTokens(t *testing.T) {
	c := cptest.New(t, 3)
	waitGateways(t, c)
	cl := c.Client(0)
	follower := c.Nodes[c.Follower()].QUICAddr()

	a := newTestAgent(t, "kiosk-1")
	tok := mintToken(t, cl, "1h", 1)
	if code := a.enroll(follower, tok); code != "" {
		t.Fatalf("enrollment through a follower: %s", code)
	}
	if code := newTestAgent(t, "kiosk-2").enroll(follower, tok); code != "token_invalid" {
		t.Fatalf("spent token: %q, want token_invalid", code)
	}
	// A well-formed token this cluster never minted.
	tp, _ := protocol.ParseJoinToken(tok)
	forged, _ := protocol.NewJoinToken(rand.Reader, tp.CAFingerprint)
	if code := newTestAgent(t, "kiosk-3").enroll(follower, forged.String()); code != "token_invalid" {
		t.Fatalf("unknown token: %q, want token_invalid", code)
	}
	short := mintToken(t, cl, "1s", 5)
	time.Sleep(1500 * time.Millisecond)
	if code := newTestAgent(t, "kiosk-4").enroll(follower, short); code != "token_invalid" {
		t.Fatalf("expired token: %q, want token_invalid", code)
	}
	// A token of another cluster pins another CA: the handshake fails.
	other, _ := protocol.NewJoinToken(rand.Reader, [32]byte{1})
	if code := newTestAgent(t, "kiosk-5").enroll(follower, other.String()); code != "handshake" && code != "token_invalid" {
		t.Fatalf("foreign token: %q", code)
	}
	// The enrolled agent connects with its certificate; without one, a
	// connection may only enroll.
	noCert := &testAgent{t: t, id: a.id, key: a.key, ca: a.ca}
	if s, err := noCert.dial(c.Nodes[0].QUICAddr()); err == nil {
		_, code, err := s.hello(a.id, "", 0, 0)
		s.close()
		if err == nil && code == "" {
			t.Fatal("a connection without a certificate opened a session")
		}
	}
	// Another process (another key) under the live agent's id is refused
	// and leaves the agent's certificate valid.
	if code := newTestAgent(t, a.id).enroll(follower, mintToken(t, cl, "1h", 1)); code != "conflict" {
		t.Fatalf("another key under a live id: %q, want conflict", code)
	}
	a.open(t, c.Nodes[0].QUICAddr())
}

func TestGateway_SessionGetsSnapshotThenEveryChangeAndRevocationCutsItOff(t *testing.T) {
	c := cptest.New(t, 3)
	waitGateways(t, c)
	cl := c.Client(0)
	applyOffer(t, cl, "o1")
	a := newTestAgent(t, "kiosk-1")
	if code := a.enroll(c.Nodes[0].QUICAddr(), mintToken(t, cl, "1h", 1)); code != "" {
		t.Fatal(code)
	}
	s, err := a.dial(c.Nodes[c.Follower()].QUICAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	w, code, err := s.hello(a.id, "", 0, 0)
	if err != nil || code != "" {
		t.Fatalf("hello: %v %s", err, code)
	}
	f, err := s.next(5 * time.Second)
	if err != nil || f.Type != wire.MsgSnapshot {
		t.Fatalf("first feed frame %v %v, want a snapshot", f.Type, err)
	}
	var snap wire.Snapshot
	_ = f.Decode(&snap)
	if snap.ClusterID != w.ClusterID || len(snap.Objects) != 1 || snap.Objects[0].ID != "o1" {
		t.Fatalf("snapshot %+v", snap)
	}
	idx := applyOffer(t, cl, "o2")
	f, err = s.next(5 * time.Second)
	if err != nil || f.Type != wire.MsgChanges {
		t.Fatalf("after an apply: %v %v, want changes", f.Type, err)
	}
	var ch wire.Changes
	_ = f.Decode(&ch)
	if ch.Index < idx || len(ch.Changes) != 1 || ch.Changes[0].ID != "o2" || ch.Changes[0].Index != idx {
		t.Fatalf("changes %+v, want o2 at %d", ch, idx)
	}
	if _, err := cl.RevokeAgent(context.Background(), api.RevokeRequest{ID: a.id, Force: true}); err != nil {
		t.Fatal(err)
	}
	f, err = s.next(5 * time.Second)
	if err == nil && f.Type == wire.MsgError {
		var e wire.Error
		_ = f.Decode(&e)
		if e.Code != "revoked" {
			t.Fatalf("revocation error %+v", e)
		}
	} else if err == nil {
		t.Fatalf("after revocation got %v", f.Type)
	}
	select {
	case <-s.conn.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a revoked agent's connection stayed open")
	}
	// And it is refused from then on, on every node.
	for _, n := range c.Nodes {
		s2, err := a.dial(n.QUICAddr())
		if err != nil {
			continue // refused in the handshake is fine too
		}
		_, code, err := s2.hello(a.id, "", 0, 0)
		s2.close()
		if err == nil && code != "revoked" {
			t.Fatalf("node %s let a revoked agent in (code %q)", n.ID, code)
		}
	}
}

func TestGateway_StaleNodeNeverSendsAnAgentBackInTime(t *testing.T) {
	c := cptest.New(t, 3)
	waitGateways(t, c)
	l := c.Leader()
	cl := c.Client(l)
	a := newTestAgent(t, "kiosk-1")
	if code := a.enroll(c.Nodes[l].QUICAddr(), mintToken(t, cl, "1h", 1)); code != "" {
		t.Fatal(code)
	}
	stale := c.Follower()
	c.WaitApplied(c.Store(l).FSM().Applied())
	c.Nodes[stale].Net.Partition()
	applyOffer(t, cl, "o1")
	held := applyOffer(t, cl, "o2")
	ci, _ := c.Store(l).FSM().Cluster()
	// The agent holds index `held`; the partitioned node is behind it.
	if c.Store(stale).FSM().Applied() >= held {
		t.Fatal("the partitioned node is not behind")
	}
	s, err := a.dial(c.Nodes[stale].QUICAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if _, code, err := s.hello(a.id, ci.ClusterID, ci.Epoch, held); err != nil || code != "" {
		t.Fatalf("hello: %v %s", err, code)
	}
	if f, err := s.next(time.Second); err == nil {
		t.Fatalf("a node behind the agent sent %s", f.Type)
	}
	c.Nodes[stale].Net.Heal()
	next := applyOffer(t, cl, "o3")
	for {
		f, err := s.next(10 * time.Second)
		if err != nil {
			t.Fatalf("after the node caught up: %v", err)
		}
		if f.Type != wire.MsgChanges {
			t.Fatalf("got %s, want changes", f.Type)
		}
		var ch wire.Changes
		_ = f.Decode(&ch)
		for _, x := range ch.Changes {
			if x.Index <= held {
				t.Fatalf("sent change %s at %d, at or below the held %d", x.ID, x.Index, held)
			}
		}
		if ch.Index >= next {
			return
		}
	}
}

// events opens an events stream and returns it with the cluster's mark.
func (s *session) events(t testing.TB) (*quic.Stream, uint64) {
	t.Helper()
	st, err := s.conn.OpenStreamSync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The stream opens with an empty batch, answered with the mark.
	mark, code := sendBatch(t, st, wire.Events{Events: []protocol.ContactEvent{}})
	if code != "" {
		t.Fatalf("events stream mark: %s", code)
	}
	return st, mark
}

func batch(agent string, from, n uint64) wire.Events {
	var b wire.Events
	for seq := from; seq < from+n; seq++ {
		b.Events = append(b.Events, protocol.ContactEvent{AgentID: agent, Seq: seq, Time: time.Date(2026, 12, 1, 10, 0, 0, int(seq), time.UTC),
			CustomerID: fmt.Sprintf("C%d", seq%7), Channel: "kiosk", Type: protocol.ContactOffer, Outcome: protocol.OutcomePresented})
	}
	return b
}

func sendBatch(t testing.TB, st *quic.Stream, b wire.Events) (uint64, api.Code) {
	t.Helper()
	if err := wire.WriteFrame(st, wire.MsgEvents, b); err != nil {
		t.Fatal(err)
	}
	_ = st.SetReadDeadline(time.Now().Add(20 * time.Second))
	f, err := wire.ReadFrame(st, 0)
	if err != nil {
		t.Fatalf("read ack: %v", err)
	}
	if f.Type == wire.MsgError {
		var e wire.Error
		_ = f.Decode(&e)
		return 0, e.Code
	}
	var ack wire.EventsAck
	_ = f.Decode(&ack)
	return ack.HighestSeq, ""
}

func TestGateway_EventsThroughAFollowerAreCommittedOnceAndGapsRefused(t *testing.T) {
	c := cptest.New(t, 3)
	waitGateways(t, c)
	cl := c.Client(0)
	a := newTestAgent(t, "kiosk-1")
	if code := a.enroll(c.Nodes[0].QUICAddr(), mintToken(t, cl, "1h", 1)); code != "" {
		t.Fatal(code)
	}
	s := a.open(t, c.Nodes[c.Follower()].QUICAddr())
	st, mark := s.events(t)
	if mark != 0 {
		t.Fatalf("fresh agent's mark %d", mark)
	}
	if hi, code := sendBatch(t, st, batch(a.id, 1, 100)); code != "" || hi != 100 {
		t.Fatalf("first batch: %d %s", hi, code)
	}
	// A resend after a lost acknowledgement changes nothing.
	if hi, code := sendBatch(t, st, batch(a.id, 51, 60)); code != "" || hi != 110 {
		t.Fatalf("overlapping batch: %d %s", hi, code)
	}
	if _, code := sendBatch(t, st, batch(a.id, 200, 5)); code != "sequence_gap" {
		t.Fatalf("gap: %q, want sequence_gap", code)
	}
	// The node closed that stream; a new one starts from the mark.
	st2, mark := s.events(t)
	if mark != 110 {
		t.Fatalf("mark after reopening %d, want 110", mark)
	}
	if hi, code := sendBatch(t, st2, batch(a.id, 111, 10)); code != "" || hi != 120 {
		t.Fatalf("after reopening: %d %s", hi, code)
	}
	stats, err := cl.ContactStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Total != 120 || len(stats.Agents) != 1 || stats.Agents[0].HighestSequence != 120 {
		t.Fatalf("stats %+v, want 120 events through 120", stats)
	}
}

var _ = errors.Is

func TestGateway_FleetShowsRegistryWithSessionState(t *testing.T) {
	c := cptest.New(t, 1)
	waitGateways(t, c)
	cl := c.Client(0)
	a := newTestAgent(t, "ivr-7")
	if code := a.enroll(c.Nodes[0].QUICAddr(), mintToken(t, cl, "1h", 1)); code != "" {
		t.Fatal(code)
	}
	head := applyOffer(t, cl, "o1")
	ag, err := cl.FleetAgent(context.Background(), a.id)
	if err != nil {
		t.Fatal(err)
	}
	// Never seen: no figure is known (all 0, lastSeen absent; the CLI
	// shows "-"), none is made up.
	if ag.Status != api.AgentDead || ag.Site != "sh-01" || ag.Channel != "kiosk" || ag.Lag != 0 || !ag.LastSeen.IsZero() || ag.Session != "" {
		t.Fatalf("before any session: %+v", ag)
	}
	s := a.open(t, c.Nodes[0].QUICAddr())
	if f, err := s.next(5 * time.Second); err != nil || f.Type != wire.MsgSnapshot {
		t.Fatalf("snapshot: %v %v", f.Type, err)
	}
	// Sent the snapshot, not yet reported applied: the fleet says so
	// apart (customers erase waits on appliedIndex).
	if as, err := cl.FleetAgents(context.Background()); err != nil || len(as) != 1 || as[0].AppliedIndex >= head {
		t.Fatalf("before the agent's status: %+v %v", as, err)
	}
	if err := wire.WriteFrame(s.ctl, wire.MsgStatus, wire.Status{Index: head, OutboxBacklog: 17, NextSeq: 18}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		as, err := cl.FleetAgents(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(as) == 1 && as[0].Status == api.AgentAlive && as[0].OutboxBacklog == 17 && as[0].Lag == 0 &&
			as[0].ConfigIndex == head && as[0].AppliedIndex == head && as[0].Session == "n0" && as[0].Version == "test" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fleet view %+v", as)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := cl.FleetAgent(context.Background(), "nobody"); api.CodeOf(err) != api.CodeNotFound {
		t.Fatalf("unknown agent: %v", err)
	}
}

// One session per agent on a node: a newer session of the same agent
// takes over and the older connection is closed, so two of the node's
// streams never interleave the agent's events.
func TestGateway_NewerSessionOfAnAgentReplacesTheOlder(t *testing.T) {
	c := cptest.New(t, 1)
	waitGateways(t, c)
	a := newTestAgent(t, "kiosk-1")
	if code := a.enroll(c.Nodes[0].QUICAddr(), mintToken(t, c.Client(0), "1h", 1)); code != "" {
		t.Fatal(code)
	}
	old := a.open(t, c.Nodes[0].QUICAddr())
	oldEvents, _ := old.events(t)
	if hi, code := sendBatch(t, oldEvents, batch(a.id, 1, 10)); code != "" || hi != 10 {
		t.Fatalf("old session batch: %d %s", hi, code)
	}
	cur := a.open(t, c.Nodes[0].QUICAddr())
	select {
	case <-old.conn.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the older session stayed open")
	}
	st, mark := cur.events(t)
	if mark != 10 {
		t.Fatalf("the newer session starts at %d, want 10", mark)
	}
	if hi, code := sendBatch(t, st, batch(a.id, 11, 5)); code != "" || hi != 15 {
		t.Fatalf("new session batch: %d %s", hi, code)
	}
	if n := len(c.Nodes[0].Server.Gateway().Sessions()); n != 1 {
		t.Fatalf("%d sessions for one agent", n)
	}
}

// The stateless-reset key is kept per node: a restarted node answers the
// packets of its old connections with resets the agents can verify.
func TestGateway_StatelessResetKeySurvivesRestart(t *testing.T) {
	c := cptest.New(t, 1)
	waitGateways(t, c)
	n := c.Nodes[0]
	path := filepath.Join(n.DataDir, gateway.ResetKeyFile)
	before, err := os.ReadFile(path)
	if err != nil || len(before) != 32 {
		t.Fatalf("reset key %s: %d bytes, %v", path, len(before), err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("reset key mode %v", fi.Mode().Perm())
	}
	n.Stop()
	c.Restart(n)
	after, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("the reset key changed across a restart (%v)", err)
	}
}
