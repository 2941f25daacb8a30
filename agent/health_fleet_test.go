package agent_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/agent"
	"touchpoint.dev/touchpoint/agent/agenttest"
	"touchpoint.dev/touchpoint/protocol"
)

// A revoked agent refuses every contact, so it is not ready: /readyz
// answers 503 with the reason, /healthz (liveness) stays 200 and says
// revoked, and decisions are still served from the cache.
func TestAgent_RevokedAgentIsNotReadyAndSaysSo(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	readmeCatalogue(fake, 0)
	fake.PutCustomer(protocol.Profile{ID: "C9", Attributes: map[string]any{"tenureMonths": 12.0}, Index: 1})
	a := start(t, config(t, t.TempDir(), []string{fake.Addr()}, fake.JoinToken(time.Hour, 1)))
	agenttest.WaitFor(t, 10*time.Second, "the catalogue", func() bool { return do(t, "GET", a.URL()+"/v1/catalog/campaigns/winback-q4", nil).status == 200 })
	if res := do(t, "GET", a.URL()+"/readyz", nil); res.status != 200 {
		t.Fatalf("readyz before the revocation: %d %s", res.status, res.body)
	}
	if d, res := decide(t, a.URL(), `{"customerId":"C9","channel":"kiosk"}`); res.status != 200 || len(d.Offers) != 1 {
		t.Fatalf("decision before the revocation: %d %s", res.status, res.body)
	}
	health := func(path string) (agent.Health, int) {
		t.Helper()
		res := do(t, "GET", a.URL()+path, nil)
		var h agent.Health
		if err := json.Unmarshal(res.body, &h); err != nil {
			t.Fatalf("%s: %v: %s", path, err, res.body)
		}
		return h, res.status
	}
	if h, _ := health("/healthz"); h.Revoked || h.Session == agent.SessionRevoked {
		t.Fatalf("healthz before the revocation: %+v", h)
	}

	fake.Revoke(a.Status().ID)
	agenttest.WaitFor(t, 10*time.Second, "the revocation", func() bool { _, code := health("/readyz"); return code == 503 })
	if h, code := health("/readyz"); h.Status != "not_ready" || !h.Revoked || h.Session != agent.SessionRevoked ||
		!strings.HasPrefix(h.Reason, "revoked by the control plane") {
		t.Errorf("readyz of a revoked agent: %d %+v", code, h)
	}
	if h, code := health("/healthz"); code != 200 || h.Status != "ok" || !h.Revoked || h.Session != agent.SessionRevoked {
		t.Errorf("healthz of a revoked agent: %d %+v", code, h)
	}
	if d, res := decide(t, a.URL(), `{"customerId":"C9","channel":"kiosk"}`); res.status != 200 || len(d.Offers) != 1 {
		t.Errorf("decision after the revocation: %d %s", res.status, res.body)
	}
}
