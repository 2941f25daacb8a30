package main

import (
	"encoding/json"
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
