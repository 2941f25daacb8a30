package agent_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/agent/agenttest"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// An agent whose disk falls below its floor refuses contacts with 507
// insufficient_storage and takes no configuration changes (badger would
// crash on a full disk), but goes on deciding from its cache; once space
// is freed it takes contacts again and catches up with the changes it
// missed. Nothing accepted before is lost.
func TestAgent_DiskLowRefusesContactsKeepsDecidingAndRecovers(t *testing.T) {
	const floor = 64 << 20
	var free atomic.Uint64 // a test double for the file system's free space
	free.Store(1 << 30)
	fake := agenttest.Start(t, agenttest.Config{})
	readmeCatalogue(fake, 0)
	fake.PutCustomer(protocol.Profile{ID: "C1", Attributes: map[string]any{"tenureMonths": 12.0}, Index: 1})
	cfg := config(t, t.TempDir(), []string{fake.Addr()}, fake.JoinToken(time.Hour, 1))
	cfg.MinFreeDisk = floor
	cfg.DiskFree = func(string) (uint64, error) { return free.Load(), nil }
	a := start(t, cfg)
	agenttest.WaitFor(t, 10*time.Second, "the catalogue", func() bool { return do(t, "GET", a.URL()+"/v1/catalog/policies/default", nil).status == 200 })
	if res := do(t, "POST", a.URL()+"/v1/contacts", []byte(contact)); res.status != 202 {
		t.Fatalf("a contact with room on the disk: %d %s", res.status, res.body)
	}

	free.Store(floor - 1)
	time.Sleep(150 * time.Millisecond) // past the guard's reuse of a reading
	res := do(t, "POST", a.URL()+"/v1/contacts", []byte(contact))
	if code, _ := res.errorCode(t); res.status != 507 || code != api.CodeInsufficientStorage || !strings.Contains(string(res.body), "64.0 MB kept free") {
		t.Fatalf("a contact with the disk low: %d %s", res.status, res.body)
	}
	if d, res := decide(t, a.URL(), `{"customerId":"C1","channel":"kiosk"}`); res.status != 200 || len(d.Offers) != 1 {
		t.Fatalf("a decision with the disk low: %d %s", res.status, res.body)
	}
	if h := do(t, "GET", a.URL()+"/healthz", nil); !strings.Contains(string(h.body), `"diskLow":true`) {
		t.Fatalf("healthz with the disk low: %s", h.body)
	}
	if st := a.Status(); st.Disk == nil || !st.Disk.Low || st.Disk.FloorBytes != floor {
		t.Fatalf("status disk: %+v", st.Disk)
	}
	// A change published meanwhile does not reach the cache...
	idx := fake.Put("Offer", "upsell-5", map[string]any{"category": "upsell", "value": 5})
	time.Sleep(500 * time.Millisecond)
	if got := a.Status().Config.Index; got >= idx {
		t.Fatalf("the cache applied index %d with the disk low", got)
	}

	// ...until space is freed: then the change arrives and contacts are
	// taken again.
	free.Store(floor)
	agenttest.WaitFor(t, 15*time.Second, "the missed change", func() bool { return do(t, "GET", a.URL()+"/v1/catalog/offers/upsell-5", nil).status == 200 })
	if res := do(t, "POST", a.URL()+"/v1/contacts", []byte(contact)); res.status != 202 {
		t.Fatalf("a contact once space is freed: %d %s", res.status, res.body)
	}
	agenttest.WaitFor(t, 10*time.Second, "both accepted contacts at the control plane", func() bool { return len(fake.Events("kiosk-7")) == 2 })
	metrics := string(do(t, "GET", a.URL()+"/metrics", nil).body)
	for _, want := range []string{`touchpoint_agent_contacts_rejected_total{code="insufficient_storage"} 1`, "touchpoint_agent_disk_low 0", "touchpoint_agent_disk_free_bytes 6.7108864e+07"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
