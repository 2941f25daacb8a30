package gateway

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// CodeRevoked is sent to a revoked agent before its connection closes.
const CodeRevoked = fsm.CodeRevoked

// SessionInfo describes one agent session for the fleet view.
type SessionInfo struct {
	AgentID       string
	Site, Channel string
	Version       string
	Since         time.Time
	LastSeen      time.Time
	// ConfigIndex is the index the agent holds or has been sent;
	// AppliedIndex what it reported holding (Hello, then Status).
	ConfigIndex   uint64
	AppliedIndex  uint64
	OutboxBacklog uint64
	OutboxFull    bool
}

// session is one agent's live connection to this node.
type session struct {
	g      *Gateway
	conn   *quic.Conn
	id     string
	serial string
	cancel context.CancelFunc
	done   chan struct{}

	// sent is the configuration index the agent holds (what it said in
	// Hello, then what we sent it).
	sent atomic.Uint64
	// version is the protocol version the agent speaks; contactsSent is the
	// position in the node's contact feed pushed to it (version 3).
	version      int
	contactsSent uint64
	// volumesSent is the hub's volumes frame last pushed (0: none);
	// volumesRead is set once the session read volumes itself.
	volumesSent uint64
	volumesRead bool

	mu   sync.Mutex
	meta SessionInfo

	// events is held while an events stream is being served: one at a
	// time per session.
	events sync.Mutex
}

func (s *session) info() SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.meta
	in.AppliedIndex = in.ConfigIndex
	if idx := s.sent.Load(); idx > in.ConfigIndex {
		in.ConfigIndex = idx
	}
	return in
}

func (s *session) seen(st *wire.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.meta.LastSeen = s.g.cfg.Now()
	if st != nil {
		s.meta.ConfigIndex, s.meta.OutboxBacklog, s.meta.OutboxFull = st.Index, st.OutboxBacklog, st.OutboxFull
	}
}

// admit checks an agent's certificate against the registry: enrolled,
// not revoked, and the certificate the cluster issued it.
func (g *Gateway) admit(ctx context.Context, id string, leaf *x509.Certificate) (fsm.Agent, error) {
	a, ok, err := g.state.Agent(id)
	// An agent that just enrolled through another node may reach this one
	// before it has applied the enrollment: give replication a moment.
	for wait := time.Now().Add(3 * time.Second); err == nil && (!ok || a.CertSerial != certSerial(leaf)) && time.Now().Before(wait); {
		select {
		case <-ctx.Done():
			return a, ctx.Err()
		case <-g.state.Changed():
		case <-time.After(100 * time.Millisecond):
		}
		a, ok, err = g.state.Agent(id)
	}
	if err != nil {
		return a, api.Errorf(api.CodeInternal, "look up agent: %v", err)
	}
	if !ok {
		return a, api.Errorf(api.CodeUnauthorized, "agent %s is not enrolled here", id)
	}
	if a.Revoked {
		return a, api.Errorf(CodeRevoked, "agent %s was revoked", id)
	}
	if serial := certSerial(leaf); serial != a.CertSerial {
		return a, api.Errorf(api.CodeUnauthorized, "agent %s presented certificate %s; the cluster issued %s", id, serial, a.CertSerial)
	}
	return a, nil
}

func certSerial(c *x509.Certificate) string { return hex.EncodeToString(c.SerialNumber.Bytes()) }

// serveAgent runs an agent session: the control stream first, then the
// events stream the agent opens once welcomed.
func (g *Gateway) serveAgent(ctx context.Context, conn *quic.Conn, id string, leaf *x509.Certificate) {
	reg, err := g.admit(ctx, id, leaf)
	if err != nil {
		g.metrics.ConnsRefused.Add(1)
		g.log.Info("agent refused", "agent", id, "error", err)
		g.refuse(ctx, conn, err)
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &session{g: g, conn: conn, id: id, serial: reg.CertSerial, cancel: cancel, done: make(chan struct{})}
	defer close(s.done)
	now := g.cfg.Now()
	s.meta = SessionInfo{AgentID: id, Site: reg.Site, Channel: reg.Channel, Since: now, LastSeen: now}

	ctl, err := conn.AcceptStream(ctx)
	if err != nil {
		_ = conn.CloseWithError(closeProtocol, "no control stream")
		return
	}
	defer closeStream(ctl)
	_ = ctl.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := wire.ReadFrame(ctl, maxSmallFrame)
	if err != nil || f.Type != wire.MsgHello {
		_ = conn.CloseWithError(closeProtocol, "the control stream opens with hello")
		return
	}
	_ = ctl.SetReadDeadline(time.Time{})
	var hello wire.Hello
	if err := f.Decode(&hello); err != nil {
		g.replyError(ctl, api.Errorf(api.CodeInvalidJSON, "%v", err))
		return
	}
	if hello.ProtocolVersion < minAgentVersion || hello.ProtocolVersion > wire.ProtocolVersion {
		g.replyError(ctl, api.Errorf(api.CodeBadRequest, "protocol version %d; this node speaks %d to %d", hello.ProtocolVersion, minAgentVersion, wire.ProtocolVersion))
		return
	}
	s.version = hello.ProtocolVersion
	// Contacts committed from now on are pushed; earlier ones come with
	// the profiles the agent fetches.
	s.contactsSent = g.state.ContactsHead()
	if hello.AgentID != id {
		g.replyError(ctl, api.Errorf(api.CodeForbidden, "hello names agent %q; the certificate is %q's", hello.AgentID, id))
		return
	}
	s.meta.Version, s.meta.ConfigIndex = hello.Version, hello.Index
	if hello.Site != "" {
		s.meta.Site = hello.Site
	}
	s.sent.Store(hello.Index)

	g.register(s)
	defer g.unregister(s)

	ci, err := g.state.Cluster()
	if err != nil {
		g.replyError(ctl, err)
		return
	}
	mark, err := g.state.AgentMark(id)
	if err != nil {
		g.replyError(ctl, err)
		return
	}
	welcome := wire.Welcome{ProtocolVersion: wire.ProtocolVersion, NodeID: g.cfg.NodeID, ClusterID: ci.ClusterID, Epoch: ci.Epoch,
		HighestSeq: mark, Servers: g.servers()}
	if err := wire.WriteFrame(ctl, wire.MsgWelcome, welcome); err != nil {
		return
	}
	g.log.Debug("agent session", "agent", id, "index", hello.Index, "acked", hello.AckedSeq)

	// The agent's reports arrive on the control stream.
	go s.readControl(ctx, ctl)
	// Its events stream and its profile requests.
	go s.acceptStreams(ctx)

	if err := s.follow(ctx, ctl, hello); err != nil && ctx.Err() == nil {
		var ae *api.Error
		if errors.As(err, &ae) {
			g.replyError(ctl, ae)
		}
		g.log.Debug("agent session ended", "agent", id, "error", err)
	}
}

// refuse tells the agent why with an Error frame on its first stream, then
// closes the connection.
func (g *Gateway) refuse(ctx context.Context, conn *quic.Conn, err error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if st, aerr := conn.AcceptStream(ctx); aerr == nil {
		g.replyError(st, err)
		closeStream(st)
		// Let the frame reach the agent before the close overtakes it.
		select {
		case <-conn.Context().Done():
		case <-time.After(time.Second):
		}
	}
	var ae *api.Error
	msg := err.Error()
	if errors.As(err, &ae) {
		msg = string(ae.Code) + ": " + ae.Message
	}
	_ = conn.CloseWithError(closeRefused, msg)
}

func (g *Gateway) register(s *session) {
	g.mu.Lock()
	old := g.sessions[s.id]
	g.sessions[s.id] = s
	n := int64(len(g.sessions))
	g.mu.Unlock()
	g.metrics.Sessions.Store(n)
	if old != nil {
		// One session per agent: the newer one wins, and the old one's
		// events stream stops before the new one's starts.
		_ = old.conn.CloseWithError(closeReplaced, "a newer session of this agent took over")
		old.cancel()
		<-old.done
	}
}

func (g *Gateway) unregister(s *session) {
	g.mu.Lock()
	if g.sessions[s.id] == s {
		delete(g.sessions, s.id)
	}
	n := int64(len(g.sessions))
	g.mu.Unlock()
	g.metrics.Sessions.Store(n)
}

func (s *session) readControl(ctx context.Context, ctl *quic.Stream) {
	defer s.cancel()
	for {
		f, err := wire.ReadFrame(ctl, maxSmallFrame)
		if err != nil {
			return
		}
		switch f.Type {
		case wire.MsgStatus:
			var st wire.Status
			if err := f.Decode(&st); err != nil {
				return
			}
			s.seen(&st)
		case wire.MsgError:
			return
		default:
			if f.Type < wire.FirstOptionalType {
				s.g.log.Info("agent sent an unexpected message; closing", "agent", s.id, "type", f.Type)
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// follow brings the agent from the index it holds to the present and then
// pushes every change as it is applied. It never sends anything at or
// below what the agent holds: a node behind the agent (a stale follower)
// waits until it has caught up.
func (s *session) follow(ctx context.Context, ctl *quic.Stream, hello wire.Hello) error {
	g := s.g
	keys, err := g.state.GossipKeys()
	if err != nil {
		return err
	}
	if len(keys) > 0 {
		if err := wire.WriteFrame(ctl, wire.MsgKeyring, wire.Keyring{Keys: keys}); err != nil {
			return err
		}
	}
	if err := s.catchUp(ctx, ctl, hello); err != nil {
		return err
	}
	fleetGen := g.state.FleetGeneration()
	for {
		wake := g.hub.wait()
		fleet := g.fleetWait()
		if err := s.push(ctl); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-fleet:
			if gen := g.state.FleetGeneration(); gen != fleetGen {
				fleetGen = gen
				a, ok, err := g.state.Agent(s.id)
				if err == nil && (!ok || a.Revoked || a.CertSerial != s.serial) {
					_ = wire.WriteFrame(ctl, wire.MsgError, wire.Error{Code: CodeRevoked, Message: "this agent was revoked"})
					// The frame first; the close (which also says why)
					// follows shortly whether or not the agent hangs up.
					select {
					case <-s.conn.Context().Done():
					case <-time.After(time.Second):
					}
					_ = s.conn.CloseWithError(closeRefused, "revoked: this agent was revoked")
					return nil
				}
				nk, err := g.state.GossipKeys()
				if err == nil && !equalKeys(nk, keys) {
					keys = nk
					if err := wire.WriteFrame(ctl, wire.MsgKeyring, wire.Keyring{Keys: keys}); err != nil {
						return err
					}
				}
			}
		}
	}
}

func equalKeys(a, b [][]byte) bool {
	return slices.EqualFunc(a, b, func(x, y []byte) bool { return string(x) == string(y) })
}

// catchUp sends what the agent misses, or waits while this node is behind
// the agent.
func (s *session) catchUp(ctx context.Context, ctl *quic.Stream, hello wire.Hello) error {
	g := s.g
	for {
		ci, err := g.state.Cluster()
		if err != nil {
			return err
		}
		sameCluster := hello.ClusterID != "" && hello.ClusterID == ci.ClusterID
		switch {
		case !sameCluster || hello.Epoch < ci.Epoch:
			// Another cluster's or an older epoch's copy (a rebuilt or
			// restored control plane), or none: the whole configuration.
			feed, err := g.state.SnapshotFeed()
			if err != nil {
				return err
			}
			return s.send(ctl, feed)
		case hello.Epoch > ci.Epoch || hello.Index > g.state.Applied():
			// This node is behind the agent: never send it back in time.
			g.log.Info("agent is ahead of this node; waiting to catch up", "agent", s.id, "agent_index", hello.Index, "applied", g.state.Applied())
			ch := g.state.Changed()
			if hello.Epoch == ci.Epoch && hello.Index <= g.state.Applied() {
				continue
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-ch:
			case <-time.After(time.Second):
			}
		default:
			return nil // push sends the changes after hello.Index
		}
	}
}

// push sends the changes after what the agent holds, using the hub's
// shared frame when it starts exactly at the agent's index (one that
// started below it would resend changes the agent holds), then the
// contacts committed since the last push.
func (s *session) push(ctl *quic.Stream) error {
	if err := s.pushChanges(ctl); err != nil {
		return err
	}
	if err := s.pushContacts(ctl); err != nil {
		return err
	}
	return s.pushVolumes(ctl)
}

// pushVolumes sends the hub's newest offer volumes frame, if the agent
// has not had it (version 3 agents; older ones would close the stream on
// an unknown type below FirstOptionalType, but this one is above it).
func (s *session) pushVolumes(ctl *quic.Stream) error {
	if s.version < 3 {
		return nil
	}
	fr := s.g.hub.latestVolumes()
	if fr == nil && !s.volumesRead {
		// The hub reads volumes only while there are sessions and
		// something is applied: a session that starts on a quiet node
		// reads them itself once.
		s.volumesRead = true
		v, err := s.g.state.OfferVolumes()
		if err != nil || len(v) == 0 {
			return err
		}
		return wire.WriteFrame(ctl, wire.MsgOfferVolumes, wire.OfferVolumes{Volumes: v})
	}
	if fr == nil || fr.to <= s.volumesSent {
		return nil
	}
	if _, err := ctl.Write(fr.frame); err != nil {
		return fmt.Errorf("push volumes: %w", err)
	}
	s.volumesSent = fr.to
	return nil
}

func (s *session) pushChanges(ctl *quic.Stream) error {
	g := s.g
	for {
		sent := s.sent.Load()
		if sent >= g.state.LastChange() {
			return nil
		}
		if fr := g.hub.latest(); fr != nil && fr.from == sent && sent < fr.to {
			if _, err := ctl.Write(fr.frame); err != nil {
				return fmt.Errorf("push: %w", err)
			}
			g.metrics.ChangesPushed.Add(1)
			s.sent.Store(fr.to)
			continue
		}
		feed, err := g.state.Changes(sent, g.cfg.FeedPage)
		if err != nil {
			return err
		}
		if !feed.Snapshot && feed.Index <= sent {
			return nil
		}
		if err := s.send(ctl, feed); err != nil {
			return err
		}
	}
}

func (s *session) send(ctl *quic.Stream, feed api.ChangeFeed) error {
	b, err := encodeFeed(feed)
	if err != nil {
		return err
	}
	if _, err := ctl.Write(b); err != nil {
		return fmt.Errorf("send feed: %w", err)
	}
	s.g.metrics.ChangesPushed.Add(1)
	s.sent.Store(feed.Index)
	return nil
}
