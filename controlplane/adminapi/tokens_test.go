package adminapi_test

import (
	"context"
	"testing"

	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol/api"
)

// A revoked token is refused on every node from the commit on; an unknown
// id is not_found, and the last admin token is kept, or nobody could manage
// the cluster.
func TestTokens_RevokedTokenIsRefusedEverywhere(t *testing.T) {
	c := cptest.New(t, 3)
	ctx := context.Background()
	admin := c.Client(c.Leader())
	tok, err := admin.CreateToken(ctx, api.TokenRequest{Role: api.RoleAnalyst, Name: "leaked"})
	if err != nil {
		t.Fatal(err)
	}
	follower := c.Follower()
	analyst := api.NewClient(c.Nodes[follower].URL(), tok.Token, nil)
	if err := analyst.Do(ctx, "GET", "/v1/catalog/offers", "", nil, nil); err != nil {
		t.Fatalf("the token before its revocation: %v", err)
	}
	res, err := admin.RevokeToken(ctx, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	c.WaitApplied(res.Index)
	for i := range c.Nodes {
		err := api.NewClient(c.Nodes[i].URL(), tok.Token, nil).Do(ctx, "GET", "/v1/catalog/offers", "", nil, nil)
		wantCode(t, "a revoked token", err, api.CodeUnauthorized)
	}
	ts, err := admin.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ts {
		if x.ID == tok.ID {
			t.Fatalf("the revoked token is still listed: %+v", ts)
		}
	}
	_, err = admin.RevokeToken(ctx, tok.ID)
	wantCode(t, "revoking it again", err, api.CodeNotFound)
	// The bootstrap token is the only admin token.
	var adminID string
	for _, x := range ts {
		if x.Role == api.RoleAdmin {
			adminID = x.ID
		}
	}
	_, err = admin.RevokeToken(ctx, adminID)
	wantCode(t, "the last admin token", err, api.CodeConflict)
}
