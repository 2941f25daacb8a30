package adminapi

import (
	"context"
	"crypto/rand"
	"encoding/pem"
	"time"

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
