package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol/api"
)

// --uses is 1 to 100000 (what the API accepts); unset, it is 1. An
// explicit 0 is refused, not taken for the default.
func TestFleetToken_UsesOutsideItsRangeIsAUsageError(t *testing.T) {
	f := newFakeAPI(t, map[string]any{"POST /v1/fleet/tokens": api.JoinTokenResult{Token: "tpj1.x", ID: "t1", Uses: 1, Index: 3}})
	uses := func(want int) func(*testing.T, string) {
		return func(t *testing.T, body string) {
			var r api.JoinTokenRequest
			if err := json.Unmarshal([]byte(body), &r); err != nil || r.Uses != want {
				t.Errorf("request body %s: want uses %d (%v)", body, want, err)
			}
		}
	}
	checkFlagCases(t, f, []flagCase{
		{line: "fleet token", wantReq: "POST /v1/fleet/tokens", wantBody: uses(1)},
		{line: "fleet token --uses 1", wantReq: "POST /v1/fleet/tokens", wantBody: uses(1)},
		{line: "fleet token --uses 100000", wantReq: "POST /v1/fleet/tokens", wantBody: uses(100000)},
		{line: "fleet token --uses 0", wantErr: "error: usage: --uses 0: must be between 1 and 100000"},
		{line: "fleet token --uses -5", wantErr: "error: usage: --uses -5: must be between 1 and 100000"},
		{line: "fleet token --uses 100001", wantErr: "error: usage: --uses 100001: must be between 1 and 100000"},
	})
}

// In Chinese, fleet ls's columns line up on screen: headers of two-column
// characters over ASCII data.
func TestFleetLs_ChineseColumnsLineUp(t *testing.T) {
	seen := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := newFakeAPI(t, map[string]any{"GET /v1/fleet/agents": []api.FleetAgent{
		{ID: "kiosk-1", Site: "上海浦东", Channel: "kiosk", Status: api.AgentAlive, ConfigIndex: 1234, Version: "v1.2.3", LastSeen: seen},
		{ID: "ivr-22", Site: "sh", Channel: "ivr", Status: "dead", ConfigIndex: 7, Lag: 1227, OutboxBacklog: 12, Version: "dev"},
	}})
	t.Setenv("TOUCHPOINT_LANG", "zh")
	out := mustTP(t, f.url, "tok", "fleet", "ls")
	if m := misaligned(out); m != "" {
		t.Errorf("%s:\n%s", m, out)
	}
}

// revokeAPI answers POST /v1/fleet/revoke as the control plane would for
// three agents: "busy" reports 12 unsent contacts (refused unless forced),
// "frozen" is not connected (its backlog is unknown), "old" was revoked
// before. It records the requests' bodies.
func revokeAPI(t *testing.T, revokedAt time.Time) (string, *[]api.RevokeRequest) {
	t.Helper()
	var reqs []api.RevokeRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var rr api.RevokeRequest
		if r.Method+" "+r.URL.Path != "POST /v1/fleet/revoke" || json.Unmarshal(b, &rr) != nil {
			http.NotFound(w, r)
			return
		}
		reqs = append(reqs, rr)
		switch {
		case rr.ID == "old":
			api.WriteJSON(w, 200, api.RevokeResult{AlreadyRevoked: true, RevokedAt: revokedAt})
		case !rr.Force:
			api.WriteError(w, api.Errorf(api.CodeConflict, "agent %s reports 12 contact events in its outbox that the cluster has not received; "+
				"…or revoke with force (touchpoint fleet revoke --force %s)", rr.ID, rr.ID))
		case rr.ID == "busy":
			api.WriteJSON(w, 200, api.RevokeResult{Index: 9, LostBacklog: 12})
		default:
			api.WriteJSON(w, 200, api.RevokeResult{Index: 10, LostBacklog: 3, BacklogUnknown: true})
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &reqs
}

// fleet revoke sends force only with --force: without it the API's
// conflict is the command's error (exit 1, the code first). A forced
// revocation says what was lost; a second revocation says when the first
// was, and -o json has alreadyRevoked.
func TestFleetRevoke_RefusalForceAndAlreadyRevoked(t *testing.T) {
	t.Setenv("TOUCHPOINT_LANG", "en")
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	url, reqs := revokeAPI(t, at)

	out, errs, code := tp(t, url, "tok", "fleet", "revoke", "busy")
	if code == 0 || !strings.Contains(errs, "error: conflict: agent busy reports 12 contact events") || out != "" {
		t.Errorf("revoke of an agent with unsent contacts: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	for _, line := range [][]string{{"fleet", "revoke", "--force", "busy"}, {"fleet", "revoke", "busy", "--force"}} {
		out = mustTP(t, url, "tok", line...)
		if want := "revoked agent busy (index 9)\nthe 12 contact events its outbox held were lost (--force)\n"; out != want {
			t.Errorf("%v: %q, want %q", line, out, want)
		}
	}
	out = mustTP(t, url, "tok", "fleet", "revoke", "--force", "frozen")
	if !strings.Contains(out, "it was not connected: any contact events its outbox held (3 when it last reported) were lost") {
		t.Errorf("forced revoke of an agent not connected: %q", out)
	}
	if out = mustTP(t, url, "tok", "fleet", "revoke", "old"); out != "agent old was already revoked at 2026-03-01T09:00:00Z; nothing was written\n" {
		t.Errorf("second revoke: %q", out)
	}
	var res api.RevokeResult
	if out = mustTP(t, url, "tok", "fleet", "revoke", "old", "-o", "json"); json.Unmarshal([]byte(out), &res) != nil || !res.AlreadyRevoked || !res.RevokedAt.Equal(at) {
		t.Errorf("second revoke -o json: %s", out)
	}
	var forced []bool
	for _, r := range *reqs {
		forced = append(forced, r.Force)
	}
	if want := []bool{false, true, true, true, false, false}; !slices.Equal(forced, want) {
		t.Errorf("force sent %v, want %v", forced, want)
	}
}
