package gateway

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// forwarder is a follower's connection to the leader's gateway. It holds
// one QUIC connection (re-dialled when the leader changes) and opens a
// stream per forwarded request.
type forwarder struct {
	g      *Gateway
	mu     sync.Mutex
	leader string
	conn   *quic.Conn
}

func newForwarder(g *Gateway) *forwarder { return &forwarder{g: g} }

func (f *forwarder) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conn != nil {
		_ = f.conn.CloseWithError(closeShutdown, "node shutting down")
		f.conn = nil
	}
}

// leaderConn returns a connection to the current leader's gateway.
func (f *forwarder) leaderConn(ctx context.Context) (*quic.Conn, error) {
	g := f.g
	id, _ := g.store.Leader()
	if id == "" || id == g.cfg.NodeID {
		return nil, errLeaderUnknown
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conn != nil && f.leader == id && f.conn.Context().Err() == nil {
		return f.conn, nil
	}
	if f.conn != nil {
		_ = f.conn.CloseWithError(closeNormal, "leader changed")
		f.conn = nil
	}
	nodes, err := g.state.Nodes()
	if err != nil {
		return nil, err
	}
	n, ok := nodes[id]
	if !ok || n.QUICAddr == "" {
		return nil, fmt.Errorf("leader %s has not registered a gateway: %w", id, errNoLeader)
	}
	host, _, err := net.SplitHostPort(n.QUICAddr)
	if err != nil {
		return nil, fmt.Errorf("leader gateway address %q: %w", n.QUICAddr, err)
	}
	ua, err := net.ResolveUDPAddr("udp", n.QUICAddr)
	if err != nil {
		return nil, fmt.Errorf("leader gateway address %q: %w", n.QUICAddr, err)
	}
	tlsConf, err := g.clientTLS(host)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := g.tr.Dial(dctx, ua, tlsConf, g.quicConfig())
	if err != nil {
		return nil, fmt.Errorf("dial leader gateway %s: %w", n.QUICAddr, err)
	}
	f.conn, f.leader = conn, id
	return conn, nil
}

// roundTrip sends one request on a new stream and reads one answer.
func (f *forwarder) roundTrip(ctx context.Context, t wire.MsgType, req any) (wire.Frame, error) {
	conn, err := f.leaderConn(ctx)
	if err != nil {
		return wire.Frame{}, err
	}
	st, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return wire.Frame{}, fmt.Errorf("forward %s: %w", t, errors.Join(err, errNoLeader))
	}
	defer st.CancelRead(streamCanceled)
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(dl)
	}
	if err := wire.WriteFrame(st, t, req); err != nil {
		st.CancelWrite(streamCanceled)
		return wire.Frame{}, fmt.Errorf("forward %s: %w", t, errors.Join(err, errNoLeader))
	}
	_ = st.Close()
	fr, err := wire.ReadFrame(st, maxSmallFrame)
	if err != nil {
		return wire.Frame{}, fmt.Errorf("forward %s: read answer: %w", t, errors.Join(err, errNoLeader))
	}
	if fr.Type == wire.MsgError {
		var e wire.Error
		if err := fr.Decode(&e); err != nil {
			return wire.Frame{}, err
		}
		return wire.Frame{}, &api.Error{Code: e.Code, Message: e.Message}
	}
	return fr, nil
}

// events forwards an encoded EventsIngest payload of n events; the leader
// proposes it as it is.
func (f *forwarder) events(ctx context.Context, agentID string, n int, payload []byte) (fsm.IngestResult, error) {
	fr, err := f.roundTrip(ctx, wire.MsgForwardEvents, wire.ForwardEvents{AgentID: agentID, Payload: payload})
	if err != nil {
		return fsm.IngestResult{}, err
	}
	var ack wire.EventsAck
	if fr.Type != wire.MsgEventsAck {
		return fsm.IngestResult{}, fmt.Errorf("leader answered %s to forwarded events", fr.Type)
	}
	if err := fr.Decode(&ack); err != nil {
		return fsm.IngestResult{}, err
	}
	return fsm.IngestResult{HighestSeq: ack.HighestSeq, Stored: n}, nil
}

// mark asks the leader for the highest sequence the cluster holds for an
// agent (a ForwardEvents without events).
func (f *forwarder) mark(ctx context.Context, agentID string) (fsm.IngestResult, error) {
	fr, err := f.roundTrip(ctx, wire.MsgForwardEvents, wire.ForwardEvents{AgentID: agentID})
	if err != nil {
		return fsm.IngestResult{}, err
	}
	var ack wire.EventsAck
	if fr.Type != wire.MsgEventsAck {
		return fsm.IngestResult{}, fmt.Errorf("leader answered %s to a mark request", fr.Type)
	}
	err = fr.Decode(&ack)
	return fsm.IngestResult{HighestSeq: ack.HighestSeq}, err
}

func (f *forwarder) enroll(ctx context.Context, req wire.Enroll) (*wire.Enrolled, error) {
	// While an election runs there is no leader to ask: wait for one
	// (briefly) rather than refuse. Only failures before the request left
	// are retried: an enrollment spends a token.
	var fr wire.Frame
	var err error
	for wait := time.Now().Add(enrollLeaderWait); ; {
		fr, err = f.roundTrip(ctx, wire.MsgEnroll, req)
		if err == nil || !(errors.Is(err, errLeaderUnknown) || api.CodeOf(err) == api.CodeNoLeader) || time.Now().After(wait) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, storeError(err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err != nil {
		return nil, storeError(err)
	}
	var out wire.Enrolled
	if fr.Type != wire.MsgEnrolled {
		return nil, fmt.Errorf("leader answered %s to a forwarded enrollment", fr.Type)
	}
	if err := fr.Decode(&out); err != nil {
		return nil, err
	}
	return &out, nil
}

// enrollLeaderWait bounds how long a forwarded enrollment waits for a
// leader to be elected.
const enrollLeaderWait = 3 * time.Second

// errLeaderUnknown: no leader is known yet (nothing was sent).
var errLeaderUnknown = fmt.Errorf("%w: none is known", errNoLeader)

// serveNode answers another node's forwarded requests. Only the leader
// serves them; a node that is not (any more) answers no_leader, and a
// forwarded request is never forwarded again.
func (g *Gateway) serveNode(ctx context.Context, conn *quic.Conn, leaf *x509.Certificate) {
	id := leaf.Subject.CommonName
	nodes, err := g.state.Nodes()
	if _, ok := nodes[id]; err != nil || !ok {
		g.metrics.ConnsRefused.Add(1)
		_ = conn.CloseWithError(closeRefused, "not a registered node")
		return
	}
	for {
		st, err := conn.AcceptStream(ctx)
		if err != nil {
			return
		}
		go g.serveForwarded(ctx, st)
	}
}

func (g *Gateway) serveForwarded(ctx context.Context, st *quic.Stream) {
	defer closeStream(st)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_ = st.SetDeadline(time.Now().Add(30 * time.Second))
	f, err := wire.ReadFrame(st, maxEventsFrame)
	if err != nil {
		return
	}
	if !g.store.IsLeader() {
		g.replyError(st, api.Errorf(api.CodeNoLeader, "this node is not the leader"))
		return
	}
	switch f.Type {
	case wire.MsgForwardEvents:
		var req wire.ForwardEvents
		if err := f.Decode(&req); err != nil {
			g.replyError(st, api.Errorf(api.CodeInvalidJSON, "%v", err))
			return
		}
		if len(req.Payload) == 0 {
			mark, err := g.state.AgentMark(req.AgentID)
			if err != nil {
				g.replyError(st, err)
				return
			}
			_ = wire.WriteFrame(st, wire.MsgEventsAck, wire.EventsAck{HighestSeq: mark})
			return
		}
		// The FSM checks every event against the payload's agent; the node
		// link only vouches for the agent it names.
		if agent, perr := fsm.EventsPayloadAgent(req.Payload); perr != nil || agent != req.AgentID {
			g.replyError(st, api.Errorf(api.CodeBadRequest, "forwarded payload is not agent %s's batch", req.AgentID))
			return
		}
		res, err := g.applyPayload(ctx, req.AgentID, fsm.RawPayload(req.Payload))
		if err != nil {
			g.replyError(st, storeError(err))
			return
		}
		_ = wire.WriteFrame(st, wire.MsgEventsAck, wire.EventsAck{HighestSeq: res.HighestSeq})
	case wire.MsgEnroll:
		var req wire.Enroll
		if err := f.Decode(&req); err != nil {
			g.replyError(st, api.Errorf(api.CodeInvalidJSON, "%v", err))
			return
		}
		out, err := g.enrollHere(ctx, req)
		if err != nil {
			g.replyError(st, err)
			return
		}
		_ = wire.WriteFrame(st, wire.MsgEnrolled, out)
	default:
		g.replyError(st, api.Errorf(api.CodeBadRequest, "a node link carries forwarded events or enrollments, not %s", f.Type))
	}
}
