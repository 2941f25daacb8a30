package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/cptest"
)

const volumeCapCatalogue = `kind: Offer
id: phone-500
name: 500 phones at half price
category: upsell
value: 40
channels: [kiosk, ivr]
volumeCap: 3
---
kind: Campaign
id: phones
offers: [phone-500]
channels: [kiosk, ivr]
`

// An offer's volumeCap counts presentations across the fleet: three
// presented on the kiosk agent suppress the offer there at once (its own,
// not yet in the ledger) and on the IVR agent once the control plane's
// count reaches it; presentations sent again (a retry) are not counted
// twice, an agent restarted while the control plane is down keeps the
// count, and raising the cap brings the offer back.
func TestVolumeCap_CountsPresentationsAcrossTheFleet(t *testing.T) {
	c := cptest.New(t, 3)
	cl := c.Client(c.Leader())
	addr := c.Nodes[c.Leader()].URL()
	var rows strings.Builder
	rows.WriteString("customerID,tenureMonths\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&rows, "V%d,12\n", i)
	}
	csv := filepath.Join(t.TempDir(), "customers.csv")
	if err := os.WriteFile(csv, []byte(rows.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	mustTP(t, addr, c.Token, "customers", "import", csv, "--id-column", "customerID")
	applyYAML(t, cl, volumeCapCatalogue)
	tok := mintJoinToken(t, cl, 2)
	kiosk := startTestAgent(t, newAgentConfig(t, c, "kiosk-1", "kiosk", tok))
	ivr := startTestAgent(t, newAgentConfig(t, c, "ivr-1", "ivr", tok))
	for _, a := range []*testAgent{kiosk, ivr} {
		waitFor(t, a.cfg.ID+" to hold the offer", 20*time.Second, func() bool { return a.has("offers", "phone-500") })
	}
	offered := func(a *testAgent, customer string) (bool, string) {
		d, code, body := a.decide(t, fmt.Sprintf(`{"customerId":%q,"channel":%q}`, customer, a.cfg.Channel))
		if code != 200 {
			t.Fatalf("decision on %s: %d %s", a.cfg.ID, code, body)
		}
		return len(d.Offers) == 1 && d.Offers[0].OfferID == "phone-500", hasSuppressed(d, "phone-500", "volume_cap")
	}
	// The agents know the offer's count (0) before any presentation.
	waitFor(t, "both agents to offer the phone", 20*time.Second, func() bool {
		k, _ := offered(kiosk, "V1")
		i, _ := offered(ivr, "V1")
		return k && i
	})
	present := func(a *testAgent, customer, key string) {
		req, _ := http.NewRequest("POST", a.url()+"/v1/contacts", strings.NewReader(
			fmt.Sprintf(`{"customerId":%q,"type":"offer","outcome":"presented","offerId":"phone-500","campaignId":"phones"}`, customer)))
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("contact: %d", resp.StatusCode)
		}
	}
	present(kiosk, "V1", "k1")
	present(kiosk, "V2", "k2")
	present(kiosk, "V2", "k2") // a retry: logged once
	if ok, _ := offered(kiosk, "V3"); !ok {
		t.Fatal("the kiosk stopped offering the phone after two presentations (cap 3)")
	}
	present(kiosk, "V3", "k3")
	recorded := time.Now()
	if ok, reason := offered(kiosk, "V4"); ok || !strings.Contains(reason, "presented 3 times, cap 3") {
		t.Fatalf("the kiosk after three presentations: offered %v, reason %q", ok, reason)
	}
	var reached time.Duration
	waitFor(t, "the count to reach the IVR agent", 20*time.Second, func() bool {
		_, reason := offered(ivr, "V5")
		reached = time.Since(recorded)
		return strings.Contains(reason, "presented 3 times, cap 3")
	})
	t.Logf("the volume cap reached the IVR agent %v after the third presentation on the kiosk", reached.Round(time.Millisecond))
	// Once the ledger holds them the kiosk counts them once, not twice.
	time.Sleep(3 * time.Second)
	if _, reason := offered(kiosk, "V6"); !strings.Contains(reason, "presented 3 times, cap 3") {
		t.Fatalf("the kiosk after the ledger caught up: %q", reason)
	}
	// The IVR agent restarted while the whole control plane is down
	// still holds the count it knew: the cap stays reached.
	ivr.stop()
	for _, n := range c.Nodes {
		n.Stop()
	}
	ivr.run()
	waitFor(t, "the restarted IVR agent to answer", 20*time.Second, func() bool {
		_, code, _ := ivr.decide(t, `{"customerId":"V5","channel":"ivr"}`)
		return code == 200
	})
	if ok, reason := offered(ivr, "V5"); ok || !strings.Contains(reason, "presented 3 times, cap 3") {
		t.Fatalf("the IVR agent restarted cut off: offered %v, reason %q", ok, reason)
	}
	for _, n := range c.Nodes {
		c.Restart(n)
	}
	c.WaitMembers(3)
	cl = c.Client(c.Leader())
	applyYAML(t, cl, strings.Replace(volumeCapCatalogue, "volumeCap: 3", "volumeCap: 4", 1))
	for _, a := range []*testAgent{kiosk, ivr} {
		waitFor(t, a.cfg.ID+" to offer the phone under the raised cap", 20*time.Second, func() bool {
			ok, _ := offered(a, "V7")
			return ok
		})
	}
}
