package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol/api"
)

// readmeCustomers and readmeCampaign are the documents, verbatim.
const readmeCustomers = `customerID,name,phone,tenureMonths,voiceMinutes,dataMB,sms
C1,Li Wei,13800000001,12,420,5120,30
C2,Wang Fang,13800000002,3,90,800,10
`

const readmeCampaign = `kind: Campaign
id: winback-q4
name: Q4 retention
offers: [retain-10]
channels: [kiosk, ivr]
controlGroupPercent: 0
---
kind: ContactPolicy
id: default
channel: all
maxContacts: 2
window: 168h
`

func (ta *testAgent) decide(t *testing.T, body string) (api.Decision, int, string) {
	t.Helper()
	resp, err := http.Post(ta.url()+"/v1/decisions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("decide: %v", err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	var d api.Decision
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(buf.Bytes(), &d); err != nil {
			t.Fatalf("decision: %v: %s", err, buf.String())
		}
	}
	return d, resp.StatusCode, buf.String()
}

func (ta *testAgent) present(t *testing.T, customer, decisionID string) {
	t.Helper()
	body := fmt.Sprintf(`{"customerId":%q,"type":"offer","outcome":"presented","offerId":"retain-10","campaignId":"winback-q4","decisionId":%q}`, customer, decisionID)
	resp, err := http.Post(ta.url()+"/v1/contacts", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("contact: %d", resp.StatusCode)
	}
}

func hasSuppressed(d api.Decision, offer, code string) string {
	for _, s := range d.Suppressed {
		if s.OfferID == offer && string(s.Code) == code {
			return s.Reason
		}
	}
	return ""
}

// TestDecisions_ImportApplyDecideRecordAndKeepDecidingOffline is the
// issue's end to end: import the README's customers, apply its campaign
// and policy, decide on a kiosk agent, record outcomes, see them in
// customers show and contacts query, see the cap reach the IVR agent once
// the contacts propagate (the delay is logged), and keep deciding with the
// control plane stopped.
func TestDecisions_ImportApplyDecideRecordAndKeepDecidingOffline(t *testing.T) {
	c := cptest.New(t, 3)
	cl := c.Client(c.Leader())
	addr := c.Nodes[c.Leader()].URL()
	dir := t.TempDir()
	csv := filepath.Join(dir, "customers.csv")
	if err := os.WriteFile(csv, []byte(readmeCustomers), 0o600); err != nil {
		t.Fatal(err)
	}
	mustTP(t, addr, c.Token, "customers", "import", csv, "--id-column", "customerID")
	applyYAML(t, cl, readmeOffer)
	applyYAML(t, cl, readmeCampaign)
	tok := mintJoinToken(t, cl, 2)
	kiosk := startTestAgent(t, newAgentConfig(t, c, "kiosk-1", "kiosk", tok))
	ivr := startTestAgent(t, newAgentConfig(t, c, "ivr-1", "ivr", tok))
	for _, a := range []*testAgent{kiosk, ivr} {
		waitFor(t, a.cfg.ID+" to hold the policy", 20*time.Second, func() bool { return a.has("policies", "default") })
	}

	d, code, body := kiosk.decide(t, `{"customerId":"C1","channel":"kiosk"}`)
	if code != 200 || len(d.Offers) == 0 || d.Offers[0].OfferID != "retain-10" {
		t.Fatalf("C1 on the kiosk: %d %s", code, body)
	}
	d2, code, body := kiosk.decide(t, `{"customerId":"C2","channel":"kiosk"}`)
	if code != 200 || hasSuppressed(d2, "retain-10", "not_eligible") == "" {
		t.Fatalf("C2 on the kiosk: %d %s", code, body)
	}
	if _, code, body := kiosk.decide(t, `{"customerId":"C9","channel":"kiosk"}`); code != 404 || !strings.Contains(body, "unknown_customer") {
		t.Fatalf("unknown customer: %d %s", code, body)
	}
	// The IVR agent decides for C1 once, so it holds the customer (and
	// its history follows it from then on).
	if d, code, body := ivr.decide(t, `{"customerId":"C1","channel":"ivr"}`); code != 200 || len(d.Offers) == 0 {
		t.Fatalf("C1 on the IVR before any contact: %d %s", code, body)
	}

	// Two presentations on the kiosk cap C1 there at once, and on the IVR
	// once the contacts reach it.
	kiosk.present(t, "C1", d.DecisionID)
	kiosk.present(t, "C1", d.DecisionID)
	recorded := time.Now()
	d, _, body = kiosk.decide(t, `{"customerId":"C1","channel":"kiosk"}`)
	if reason := hasSuppressed(d, "retain-10", "contact_cap"); reason == "" || !strings.Contains(reason, "default") {
		t.Fatalf("C1 on the kiosk after two contacts: %s", body)
	}
	var capped time.Duration
	waitFor(t, "the cap to reach the IVR agent", 20*time.Second, func() bool {
		d, _, _ := ivr.decide(t, `{"customerId":"C1","channel":"ivr"}`)
		capped = time.Since(recorded)
		return hasSuppressed(d, "retain-10", "contact_cap") != ""
	})
	t.Logf("contact cap reached the IVR agent %v after the second contact was recorded on the kiosk", capped.Round(time.Millisecond))

	// The outcomes are in the ledger and in the 360° view.
	waitFor(t, "the contacts in the ledger", 20*time.Second, func() bool {
		out, _, code := tp(t, addr, c.Token, "contacts", "query", "--customer", "C1", "-o", "json")
		return code == 0 && strings.Count(out, `"outcome": "presented"`)+strings.Count(out, `"outcome":"presented"`) == 2
	})
	show := mustTP(t, addr, c.Token, "customers", "show", "C1", "-o", "json")
	if !strings.Contains(show, "retain-10") || !strings.Contains(show, `"tenureMonths": 12`) {
		t.Fatalf("customers show C1: %s", show)
	}

	// Segmentation's scores reach both agents' copies (as derive changes,
	// applied to the profile each holds).
	mustTP(t, addr, c.Token, "segments", "run")
	for _, a := range []*testAgent{kiosk, ivr} {
		waitFor(t, "the segments on "+a.cfg.ID, 20*time.Second, func() bool {
			resp, err := http.Get(a.url() + "/tmf-api/customerManagement/v4/customer/C1")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(resp.Body)
			return strings.Contains(buf.String(), `"rfmSegment"`) && strings.Contains(buf.String(), `"lifecycleStage"`) && strings.Contains(buf.String(), `"tenureMonths"`)
		})
	}

	// Erasing C2 removes it from every agent: both confirm, and neither
	// decides for it any more.
	var erased struct {
		Confirmed   []string `json:"confirmed"`
		Unconfirmed []string `json:"unconfirmed"`
	}
	out := mustTP(t, addr, c.Token, "customers", "erase", "C2", "--wait", "20s", "-o", "json")
	if err := json.Unmarshal([]byte(out), &erased); err != nil || len(erased.Confirmed) != 2 || len(erased.Unconfirmed) != 0 {
		t.Fatalf("customers erase C2: %v: %s", err, out)
	}
	for _, a := range []*testAgent{kiosk, ivr} {
		if _, code, body := a.decide(t, `{"customerId":"C2","channel":"`+a.cfg.Channel+`"}`); code != 404 {
			t.Fatalf("%s still decides for the erased C2: %d %s", a.cfg.ID, code, body)
		}
	}

	// The control plane stops; both agents keep deciding from their caches.
	for _, n := range c.Nodes {
		n.Stop()
	}
	waitFor(t, "the kiosk agent to notice", 20*time.Second, func() bool { return !kiosk.a.LinkStatus().Connected })
	if d, code, body := kiosk.decide(t, `{"customerId":"C1","channel":"kiosk"}`); code != 200 || hasSuppressed(d, "retain-10", "contact_cap") == "" {
		t.Fatalf("offline decision for C1 on the kiosk: %d %s", code, body)
	}
	if d, code, body := ivr.decide(t, `{"customerId":"C1","channel":"ivr"}`); code != 200 || hasSuppressed(d, "retain-10", "contact_cap") == "" {
		t.Fatalf("offline decision for C1 on the IVR: %d %s", code, body)
	}
}
