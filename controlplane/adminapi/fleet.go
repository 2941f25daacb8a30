package adminapi

import (
	"context"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"time"

	"touchpoint.dev/touchpoint/controlplane/fleet"
	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// maxJoinTokenTTL bounds how long a join token lives: they are meant to be
// short-lived.
const maxJoinTokenTTL = 30 * 24 * time.Hour

func (s *Server) joinToken(ctx context.Context, q *request) (any, error) {
	var jr api.JoinTokenRequest
	if len(q.body) > 0 {
		if err := decodeStrict(q.body, &jr); err != nil {
			return nil, err
		}
	}
	ttl := time.Hour
	if jr.TTL != "" {
		d, err := time.ParseDuration(jr.TTL)
		if err != nil || d <= 0 || d > maxJoinTokenTTL {
			return nil, &api.Error{Code: api.CodeInvalidField, Field: "ttl", Message: `ttl is a duration between 1s and 720h, such as "1h"`}
		}
		ttl = d
	}
	uses := 1
	if jr.Uses != 0 {
		if jr.Uses < 1 || jr.Uses > 100000 {
			return nil, &api.Error{Code: api.CodeInvalidField, Field: "uses", Message: "uses must be between 1 and 100000"}
		}
		uses = jr.Uses
	}
	ca, ok, err := s.state.CA()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, api.Errorf(api.CodeConflict, "this cluster has no CA (it was created before enrollment existed)")
	}
	block, _ := pem.Decode([]byte(ca.CertPEM))
	if block == nil {
		return nil, api.Errorf(api.CodeInternal, "the stored cluster CA is not PEM")
	}
	tok, err := protocol.NewJoinToken(rand.Reader, protocol.FingerprintCert(block.Bytes))
	if err != nil {
		return nil, err
	}
	expires := s.cfg.Now().Add(ttl).UTC()
	res, err := s.propose(ctx, q, fsm.CmdJoinToken, fsm.JoinTokenCreate{TokenID: tok.ID, SecretHash: tok.SecretHash(),
		Expires: expires.UnixNano(), Uses: uses}, nil)
	if err != nil {
		return nil, err
	}
	if res.Duplicate {
		return nil, api.Errorf(api.CodeConflict, "this request id already minted a join token; mint another")
	}
	return &api.JoinTokenResult{Token: tok.String(), ID: tok.ID, Expires: expires, Uses: uses, Index: res.Index}, nil
}

// revokeResult is api.RevokeResult; servedAt is the applied index an
// answer that wrote nothing was read at (HeaderIndex).
type revokeResult struct {
	api.RevokeResult
	servedAt uint64
}

func (r *revokeResult) index() uint64 {
	if r.Index == 0 {
		return r.servedAt
	}
	return r.Index
}

// revoke cuts an agent off. A revoked agent's outbox is never delivered,
// so unless the request says force it is refused while the agent may still
// hold events it answered 202 for: it last reported a backlog, or it is
// not connected and its backlog is unknown. An agent revoked before is
// answered as such, and nothing is written.
func (s *Server) revoke(ctx context.Context, q *request) (any, error) {
	var rr api.RevokeRequest
	if err := decodeStrict(q.body, &rr); err != nil {
		return nil, err
	}
	if rr.ID == "" {
		return nil, &api.Error{Code: api.CodeMissingField, Field: "id", Message: "give the agent id"}
	}
	a, enrolled, err := s.state.Agent(rr.ID)
	if err != nil {
		return nil, err
	}
	var backlog uint64
	unknown := false
	if enrolled {
		if a.Revoked {
			_, _, _, applied := s.store.Indexes()
			return &revokeResult{RevokeResult: api.RevokeResult{AlreadyRevoked: true, RevokedAt: a.RevokedAt}, servedAt: applied}, nil
		}
		l, reported := s.live()[rr.ID]
		backlog, unknown = l.OutboxBacklog, !reported || l.Status != api.AgentAlive
		if !rr.Force && (unknown || backlog > 0) {
			return nil, unsentContacts(rr.ID, l, reported)
		}
	}
	// An id never enrolled is the FSM's not_found, as it always was.
	var fr fsm.AgentRevokeResult
	res, err := s.propose(ctx, q, fsm.CmdAgentRevoke, fsm.AgentRevoke{AgentID: rr.ID}, &fr)
	if err != nil {
		return nil, err
	}
	out := &revokeResult{RevokeResult: api.RevokeResult{Index: res.Index, Duplicate: res.Duplicate,
		AlreadyRevoked: fr.AlreadyRevoked, RevokedAt: fr.RevokedAt}}
	if !fr.AlreadyRevoked && !res.Duplicate {
		out.LostBacklog, out.BacklogUnknown = backlog, unknown
	}
	return out, nil
}

// unsentContacts is revoke's refusal of an agent whose outbox may hold
// contact events the cluster has not received: l is its live state
// (reported false when this node has none).
func unsentContacts(id string, l api.FleetAgent, reported bool) *api.Error {
	var why string
	switch {
	case !reported:
		why = fmt.Sprintf("agent %s has not reported since this leader started (it is not connected), "+
			"so how many contact events its outbox still holds is unknown", id)
	case l.Status != api.AgentAlive:
		seen := "never"
		if !l.LastSeen.IsZero() {
			seen = l.LastSeen.UTC().Format(time.RFC3339)
		}
		why = fmt.Sprintf("agent %s is not connected (status %s, last seen %s), so how many contact events its outbox "+
			"still holds is unknown (it last reported %s)", id, l.Status, seen, events(l.OutboxBacklog))
	default:
		why = fmt.Sprintf("agent %s reports %s in its outbox that the cluster has not received", id, events(l.OutboxBacklog))
	}
	return &api.Error{Code: api.CodeConflict, Message: why + fmt.Sprintf("; revoking it loses them for ever, though the agent answered 202 for each: "+
		"reconnect the agent and let its outbox drain (touchpoint fleet show %[1]s shows OUTBOX 0 while it is connected), then revoke it; "+
		`or revoke with force (touchpoint fleet revoke --force %[1]s; "force": true in the API) to accept losing them`, id)}
}

func events(n uint64) string {
	if n == 1 {
		return "1 contact event"
	}
	return fmt.Sprintf("%d contact events", n)
}

// fleetAgent merges an agent's registry entry with its live state.
func (s *Server) fleetAgent(a fsm.Agent, live map[string]api.FleetAgent, head uint64) api.FleetAgent {
	out := api.FleetAgent{ID: a.ID, Site: a.Site, Channel: a.Channel, Status: api.AgentDead, GossipAddr: a.GossipAddr,
		CertSerial: a.CertSerial, Enrolled: a.Enrolled, Revoked: a.Revoked, RevokedAt: a.RevokedAt}
	l, ok := live[a.ID]
	if !ok {
		return out // no live state: the indexes, lag and backlog are unknown (0, lastSeen absent)
	}
	out.Status, out.ConfigIndex, out.AppliedIndex, out.OutboxBacklog, out.Version, out.LastSeen, out.Session =
		l.Status, l.ConfigIndex, l.AppliedIndex, l.OutboxBacklog, l.Version, l.LastSeen, l.Session
	out.DiskLow = l.DiskLow
	if l.GossipAddr != "" {
		out.GossipAddr = l.GossipAddr
	}
	// Behind by what the agent has not applied yet: what a session sent
	// (ConfigIndex) is not yet in its cache.
	if head > out.AppliedIndex {
		out.Lag = head - out.AppliedIndex
	}
	return out
}

func (s *Server) live() map[string]api.FleetAgent {
	if s.cfg.Fleet == nil {
		return nil
	}
	return s.cfg.Fleet.LiveAgents()
}

func (s *Server) fleetList(context.Context, *request) (any, error) {
	agents, err := s.state.Agents()
	if err != nil {
		return nil, err
	}
	live, head := s.live(), s.state.LastChange()
	out := make([]api.FleetAgent, len(agents))
	for i, a := range agents {
		out[i] = s.fleetAgent(a, live, head)
	}
	return out, nil
}

func (s *Server) fleetShow(_ context.Context, q *request) (any, error) {
	id := q.r.PathValue("id")
	a, ok, err := s.state.Agent(id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "agent %q is not enrolled", id)
	}
	return s.fleetAgent(a, s.live(), s.state.LastChange()), nil
}

// rotateGossipKey puts a fresh key first and keeps the previous primary
// second, so members that switch a moment later still understand the
// others; the key before that is dropped.
func (s *Server) rotateGossipKey(ctx context.Context, q *request) (any, error) {
	keys, err := s.state.GossipKeys()
	if err != nil {
		return nil, err
	}
	ring, err := fleet.RotateKeys(keys, rand.Reader)
	if err != nil {
		return nil, err
	}
	res, err := s.propose(ctx, q, fsm.CmdGossipKeys, fsm.GossipKeys{Keys: ring}, nil)
	if err != nil {
		return nil, err
	}
	return &api.WriteResult{Index: res.Index, Duplicate: res.Duplicate}, nil
}
