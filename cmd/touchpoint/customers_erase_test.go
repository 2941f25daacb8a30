package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol/api"
)

// --wait is 0s or more, checked before the erase: a negative wait erases
// nothing. 0s reads the fleet once.
func TestCustomersErase_NegativeWaitIsAUsageErrorAndErasesNothing(t *testing.T) {
	f := newFakeAPI(t, map[string]any{
		"DELETE /v1/customers/C2": api.CustomerEraseResult{Index: 7},
		"GET /v1/fleet/agents": []api.FleetAgent{
			{ID: "kiosk-1", Status: api.AgentAlive, AppliedIndex: 7},
			{ID: "ivr-1", Status: api.AgentAlive, AppliedIndex: 3},
			{ID: "sms-1", Status: "dead"},
		},
	})
	checkFlagCases(t, f, []flagCase{
		{line: "customers erase C2 --wait -5s", wantErr: "error: usage: --wait -5s: must be 0s or more"},
		{line: "customers erase C2 --wait -1ns -o json", wantErr: "error: usage: --wait -1ns: must be 0s or more"},
		{line: "customers erase C2 --wait 0s", wantReq: "DELETE /v1/customers/C2"},
	})
	out := mustTP(t, f.url, "tok", "customers", "erase", "C2", "--wait", "0s")
	if want := "NOT confirmed within 0s by 1 connected agent: ivr-1 (it still holds"; !strings.Contains(out, want) {
		t.Errorf("erase --wait 0s:\n%s\nwant %q", out, want)
	}
}

// "1 connected agent", "2 connected agents"; Chinese has one form.
func TestPrintErasure_AgentCountsAgree(t *testing.T) {
	for _, c := range []struct {
		lang string
		rep  eraseReport
		want []string
	}{
		{"en", eraseReport{ID: "C1", Index: 9, Confirmed: []string{"a"}, Unconfirmed: []string{}, NotConnected: []string{"x"}}, []string{
			"confirmed by 1 connected agent: a\n",
			"every connected agent has dropped the customer\n",
			"1 agent is not connected: x; it drops the customer when it reconnects\n",
		}},
		{"en", eraseReport{ID: "C1", Index: 9, Confirmed: []string{"a", "b"}, Unconfirmed: []string{"c"}, NotConnected: []string{"x", "y"}}, []string{
			"confirmed by 2 connected agents: a, b\n",
			"NOT confirmed within 30s by 1 connected agent: c (it still holds the profile until it catches up)\n",
			"2 agents are not connected: x, y; they drop the customer when they reconnect\n",
		}},
		{"en", eraseReport{ID: "C1", Index: 9, Confirmed: []string{}, Unconfirmed: []string{"c", "d"}}, []string{
			"NOT confirmed within 30s by 2 connected agents: c, d (they still hold the profile until they catch up)\n",
		}},
		{"zh", eraseReport{ID: "C1", Index: 9, Confirmed: []string{"a"}, Unconfirmed: []string{"c"}, NotConnected: []string{"x"}}, []string{
			"1 个在线代理已确认：a\n",
			"1 个在线代理在 30s 内未确认：c（追上进度前仍持有该档案）\n",
			"1 个代理未连接：x；重新连接后会删除该客户\n",
		}},
	} {
		var b bytes.Buffer
		(&env{stdout: &b, lang: c.lang}).printErasure(c.rep, 30*time.Second)
		for _, w := range c.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s %+v:\n%s\nwant %q", c.lang, c.rep, b.String(), w)
			}
		}
	}
}

// The agents that are not connected still hold the profile: -o json names
// them (notConnected, [] when none), and so does the table, so that a
// script checking unconfirmed == [] alone is not told the erasure is
// complete. Revoked agents are in neither list.
func TestCustomersErase_NamesTheAgentsNotConnected(t *testing.T) {
	t.Setenv("TOUCHPOINT_LANG", "en")
	f := newFakeAPI(t, map[string]any{
		"DELETE /v1/customers/C2": api.CustomerEraseResult{Index: 7},
		"GET /v1/fleet/agents": []api.FleetAgent{
			{ID: "kiosk-1", Status: api.AgentAlive, AppliedIndex: 7},
			{ID: "kiosk-2", Status: api.AgentSuspect, AppliedIndex: 3},
			{ID: "sms-1", Status: api.AgentDead},
			{ID: "old-1", Status: api.AgentDead, Revoked: true},
		},
	})
	out := mustTP(t, f.url, "tok", "customers", "erase", "C2", "--wait", "0s", "-o", "json")
	var rep struct {
		Confirmed, Unconfirmed, NotConnected []string
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !slices.Equal(rep.Confirmed, []string{"kiosk-1"}) ||
		rep.Unconfirmed == nil || len(rep.Unconfirmed) != 0 || !slices.Equal(rep.NotConnected, []string{"kiosk-2", "sms-1"}) {
		t.Errorf("erase -o json: %s (%v), want notConnected [kiosk-2 sms-1]", out, err)
	}
	out = mustTP(t, f.url, "tok", "customers", "erase", "C2", "--wait", "0s")
	if want := "2 agents are not connected: kiosk-2, sms-1; they drop the customer when they reconnect\n"; !strings.Contains(out, want) {
		t.Errorf("erase:\n%s\nwant %q", out, want)
	}

	f = newFakeAPI(t, map[string]any{
		"DELETE /v1/customers/C2": api.CustomerEraseResult{Index: 7},
		"GET /v1/fleet/agents":    []api.FleetAgent{{ID: "kiosk-1", Status: api.AgentAlive, AppliedIndex: 7}},
	})
	if out = mustTP(t, f.url, "tok", "customers", "erase", "C2", "--wait", "0s", "-o", "json"); !strings.Contains(out, `"notConnected": []`) && !strings.Contains(out, `"notConnected":[]`) {
		t.Errorf("erase -o json with every agent connected: %s, want notConnected []", out)
	}
}
