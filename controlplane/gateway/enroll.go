package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/quic-go/quic-go"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// Channels an agent may serve.
var Channels = []string{"kiosk", "ivr", "terminal"}

// maxSmallFrame bounds frames that carry no configuration.
const maxSmallFrame = 1 << 20

// serveEnrollment answers the single Enroll request of a connection
// without a client certificate.
func (g *Gateway) serveEnrollment(ctx context.Context, conn *quic.Conn) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := conn.AcceptStream(ctx)
	if err != nil {
		_ = conn.CloseWithError(closeProtocol, "no enrollment request")
		return
	}
	defer closeStream(st)
	_ = st.SetDeadline(time.Now().Add(30 * time.Second))
	f, err := wire.ReadFrame(st, maxSmallFrame)
	if err != nil || f.Type != wire.MsgEnroll {
		_ = wire.WriteFrame(st, wire.MsgError, wire.Error{Code: api.CodeBadRequest, Message: "a connection without a certificate may only enroll"})
		g.metrics.EnrollRefused.Add(1)
		_ = conn.CloseWithError(closeRefused, "enrollment only")
		return
	}
	var req wire.Enroll
	if err := f.Decode(&req); err != nil {
		g.replyError(st, api.Errorf(api.CodeInvalidJSON, "%v", err))
		g.metrics.EnrollRefused.Add(1)
		return
	}
	out, err := g.enroll(ctx, req)
	if err != nil {
		g.metrics.EnrollRefused.Add(1)
		g.log.Info("enrollment refused", "agent", req.AgentID, "error", err)
		g.replyError(st, err)
		return
	}
	g.metrics.Enrollments.Add(1)
	_ = wire.WriteFrame(st, wire.MsgEnrolled, out)
	// Let the answer reach the agent before the connection goes.
	_ = st.Close()
	select {
	case <-conn.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

func (g *Gateway) replyError(st interface {
	Write([]byte) (int, error)
}, err error) {
	var ae *api.Error
	if !errors.As(err, &ae) {
		ae = api.Errorf(api.CodeInternal, "%v", err)
	}
	_ = wire.WriteFrame(st, wire.MsgError, wire.Error{Code: ae.Code, Message: ae.Message})
}

// enroll checks an enrollment request, issues the certificate and commits
// the enrollment (which spends the token) through the leader. On a
// follower the request is forwarded whole to the leader's gateway.
func (g *Gateway) enroll(ctx context.Context, req wire.Enroll) (*wire.Enrolled, error) {
	if err := checkEnroll(req); err != nil {
		return nil, err
	}
	if !g.store.IsLeader() {
		return g.fwd.enroll(ctx, req)
	}
	return g.enrollHere(ctx, req)
}

// checkEnroll validates an enrollment request's fields.
func checkEnroll(req wire.Enroll) error {
	if req.ProtocolVersion < minAgentVersion || req.ProtocolVersion > wire.ProtocolVersion {
		return api.Errorf(api.CodeBadRequest, "protocol version %d; this node speaks %d to %d", req.ProtocolVersion, minAgentVersion, wire.ProtocolVersion)
	}
	if !protocol.ValidAgentID(req.AgentID) {
		return &api.Error{Code: api.CodeInvalidField, Field: "agentId", Message: fmt.Sprintf("agent id %q: 1 to 128 letters, digits, '-', '_' or '.'", req.AgentID)}
	}
	if api.IsImportLedgerID(req.AgentID) {
		return &api.Error{Code: api.CodeInvalidField, Field: "agentId", Message: fmt.Sprintf("agent id %q: ids that begin with %q name imported contact histories in the ledger", req.AgentID, api.ImportLedgerPrefix)}
	}
	if !slices.Contains(Channels, req.Channel) {
		return &api.Error{Code: api.CodeInvalidField, Field: "channel", Message: fmt.Sprintf("channel %q; channels are %v", req.Channel, Channels)}
	}
	if len(req.Site) > 128 || len(req.Version) > 64 || len(req.GossipAddr) > 256 {
		return api.Errorf(api.CodeInvalidField, "site, version or gossip address too long")
	}
	if _, err := protocol.ParseJoinToken(req.Token); err != nil {
		return api.Errorf(fsm.CodeTokenInvalid, "the join token is malformed")
	}
	return nil
}

// keyFingerprint is the SHA-256 (hex) of the certificate's public key: the
// registry tells an agent retrying its enrollment (same key) from another
// process taking its id (fsm.AgentEnroll.KeyFingerprint).
func keyFingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// enrollHere enrolls on this node, which must be the leader.
func (g *Gateway) enrollHere(ctx context.Context, req wire.Enroll) (*wire.Enrolled, error) {
	if err := checkEnroll(req); err != nil {
		return nil, err
	}
	tok, err := protocol.ParseJoinToken(req.Token)
	if err != nil {
		return nil, api.Errorf(fsm.CodeTokenInvalid, "the join token is malformed")
	}
	g.certMu.Lock()
	caDER := g.certCA
	g.certMu.Unlock()
	if protocol.FingerprintCert(caDER) != tok.CAFingerprint {
		return nil, api.Errorf(fsm.CodeTokenInvalid, "the join token belongs to another cluster")
	}
	certDER, caDER, err := g.issueAgent(req.AgentID, req.PublicKey)
	if err != nil {
		return nil, &api.Error{Code: api.CodeInvalidField, Field: "publicKey", Message: err.Error()}
	}
	leaf, _ := x509.ParseCertificate(certDER)
	cmd, err := fsm.Encode(fsm.CmdAgentEnroll, 0, fsm.Envelope{Time: g.cfg.Now().UnixNano(), Actor: "agent:" + req.AgentID, Role: "agent"},
		fsm.AgentEnroll{TokenID: tok.ID, SecretHash: tok.SecretHash(), AgentID: req.AgentID, Site: req.Site, Channel: req.Channel,
			CertSerial: certSerial(leaf), GossipAddr: req.GossipAddr, KeyFingerprint: keyFingerprint(leaf)})
	if err != nil {
		return nil, err
	}
	res, err := g.store.Apply(ctx, cmd)
	if err != nil {
		return nil, storeError(err)
	}
	if res.Err != nil {
		return nil, res.Err
	}
	ci, err := g.state.Cluster()
	if err != nil {
		return nil, err
	}
	keys, err := g.state.GossipKeys()
	if err != nil {
		return nil, err
	}
	g.log.Info("agent enrolled", "agent", req.AgentID, "site", req.Site, "channel", req.Channel, "token", tok.ID)
	return &wire.Enrolled{ProtocolVersion: wire.ProtocolVersion, ClusterID: ci.ClusterID, Certificate: certDER, CA: caDER,
		GossipKeys: keys, Servers: g.servers()}, nil
}

// servers lists the registered nodes that run a gateway.
func (g *Gateway) servers() []wire.ServerInfo {
	nodes, err := g.state.Nodes()
	if err != nil {
		return nil
	}
	out := make([]wire.ServerInfo, 0, len(nodes))
	for _, n := range nodes {
		if n.QUICAddr != "" {
			out = append(out, wire.ServerInfo{ID: n.ID, QUICAddr: n.QUICAddr, GossipAddr: n.GossipAddr})
		}
	}
	slices.SortFunc(out, func(a, b wire.ServerInfo) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}

// closeStream ends both directions of a stream: whatever the peer still
// sends is refused, and our side is closed (quic-go counts a stream against
// the connection's limit until both directions are done).
func closeStream(st *quic.Stream) {
	st.CancelRead(streamCanceled)
	_ = st.Close()
}
