package adminapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol/api"
)

// decodeStrict decodes a JSON body, refusing unknown fields and trailing
// data, with stable codes.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return api.Errorf(api.CodeInvalidJSON, "trailing data after the JSON body")
	}
	return nil
}

// NewToken returns a fresh bearer token secret.
func NewToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "tp_" + hex.EncodeToString(b[:])
}

func (s *Server) createToken(ctx context.Context, q *request) (any, error) {
	var tr api.TokenRequest
	if err := decodeStrict(q.body, &tr); err != nil {
		return nil, err
	}
	if !api.ValidRole(tr.Role) {
		return nil, &api.Error{Code: api.CodeInvalidField, Field: "role", Message: "role must be one of " + strings.Join(api.Roles, ", ")}
	}
	tok := NewToken()
	res, err := s.propose(ctx, q, fsm.CmdTokenCreate, fsm.TokenCreate{TokenID: TokenID(tok), TokenHash: HashToken(tok), Role: tr.Role, Name: tr.Name}, nil)
	if err != nil {
		return nil, err
	}
	if res.Duplicate {
		// The first attempt's secret went to a client that lost the
		// answer; a secret is never stored, so it cannot be shown again.
		return nil, api.Errorf(api.CodeConflict, "this request id already created a token; create another")
	}
	return &api.TokenResult{Token: tok, ID: TokenID(tok), Role: tr.Role, Name: tr.Name, Index: res.Index}, nil
}

// revokeToken deletes a token: requests with its secret are refused from
// the commit on, on every node. The last admin token is kept, or nobody
// could manage the cluster any more.
func (s *Server) revokeToken(ctx context.Context, q *request) (any, error) {
	var rr api.TokenRevokeRequest
	if err := decodeStrict(q.body, &rr); err != nil {
		return nil, err
	}
	if rr.ID == "" {
		return nil, &api.Error{Code: api.CodeMissingField, Field: "id", Message: "give the token id (touchpoint tokens ls)"}
	}
	hash, info, found, err := s.state.TokenByID(rr.ID)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, api.Errorf(api.CodeNotFound, "no token %q", rr.ID)
	}
	if info.Role == api.RoleAdmin {
		all, err := s.state.Tokens()
		if err != nil {
			return nil, err
		}
		admins := 0
		for _, t := range all {
			if t.Role == api.RoleAdmin {
				admins++
			}
		}
		if admins == 1 {
			return nil, api.Errorf(api.CodeConflict, "token %q is the last admin token: create another admin token first", rr.ID)
		}
	}
	res, err := s.propose(ctx, q, fsm.CmdTokenRevoke, fsm.TokenRevoke{TokenID: rr.ID, TokenHash: hash}, nil)
	if err != nil {
		return nil, err
	}
	return &writeResult{Index: res.Index, Duplicate: res.Duplicate}, nil
}

func (s *Server) listTokens(context.Context, *request) (any, error) {
	return s.state.Tokens()
}

func (s *Server) audit(_ context.Context, q *request) (any, error) {
	limit := 100
	if v := q.r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100000 {
			return nil, &api.Error{Code: api.CodeInvalidField, Field: "limit", Message: "limit must be between 1 and 100000"}
		}
		limit = n
	}
	return s.state.Audit(limit)
}
