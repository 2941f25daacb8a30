package adminapi

import (
	"context"
	"crypto/rand"
	"encoding/pem"
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

func (s *Server) revoke(ctx context.Context, q *request) (any, error) {
	var rr api.RevokeRequest
	if err := decodeStrict(q.body, &rr); err != nil {
		return nil, err
	}
	if rr.ID == "" {
		return nil, &api.Error{Code: api.CodeMissingField, Field: "id", Message: "give the agent id"}
	}
	var out writeResult
	res, err := s.propose(ctx, q, fsm.CmdAgentRevoke, fsm.AgentRevoke{AgentID: rr.ID}, nil)
	if err != nil {
		return nil, err
	}
	out.Index, out.Duplicate = res.Index, res.Duplicate
	return &out, nil
}

// fleetAgent merges an agent's registry entry with its live state.
func (s *Server) fleetAgent(a fsm.Agent, live map[string]api.FleetAgent, head uint64) api.FleetAgent {
	out := api.FleetAgent{ID: a.ID, Site: a.Site, Channel: a.Channel, Status: api.AgentDead, GossipAddr: a.GossipAddr,
		CertSerial: a.CertSerial, Enrolled: a.Enrolled, Revoked: a.Revoked}
	if l, ok := live[a.ID]; ok {
		out.Status, out.ConfigIndex, out.AppliedIndex, out.OutboxBacklog, out.Version, out.LastSeen, out.Session =
			l.Status, l.ConfigIndex, l.AppliedIndex, l.OutboxBacklog, l.Version, l.LastSeen, l.Session
		if l.GossipAddr != "" {
			out.GossipAddr = l.GossipAddr
		}
	}
	if head > out.ConfigIndex {
		out.Lag = head - out.ConfigIndex
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
