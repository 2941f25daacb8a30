package cache_test

import (
	"encoding/json"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/agent/cache"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func customer(idx uint64, id, region string, tenure float64) api.Change {
	doc, _ := json.Marshal(protocol.Profile{ID: id, Region: region, Index: idx, Attributes: map[string]any{"tenureMonths": tenure}})
	return api.Change{Index: idx, Op: api.OpPut, Kind: cache.KindCustomer, ID: id, Region: region, Doc: doc}
}

func contact(agent string, seq uint64, customer string, at time.Time) protocol.ContactEvent {
	return protocol.ContactEvent{AgentID: agent, Seq: seq, Time: at, CustomerID: customer, Channel: "kiosk",
		Type: protocol.ContactOffer, Outcome: protocol.OutcomePresented, OfferID: "retain-10"}
}

func tenure(t *testing.T, c *cache.Cache, id string) float64 {
	t.Helper()
	p, ok, err := c.Profile(id)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return -1
	}
	return p.Attributes["tenureMonths"].(float64)
}

func TestCache_KeepsItsRegionAndWhatItHoldsFromTheFeed(t *testing.T) {
	c := open(t, t.TempDir())
	c.SetRegion("sh", false)
	if _, err := c.ApplyChanges(at(1), []api.Change{customer(1, "C1", "sh", 12), customer(1, "C2", "bj", 3), customer(1, "C3", "", 5)}); err != nil {
		t.Fatal(err)
	}
	if tenure(t, c, "C1") != 12 || tenure(t, c, "C2") != -1 || tenure(t, c, "C3") != -1 {
		t.Fatal("kept the wrong profiles")
	}
	// C2 fetched on demand: its later changes are kept although it is of
	// another region.
	if err := c.PutProfiles([]cache.Fetched{{Profile: protocol.Profile{ID: "C2", Region: "bj", Index: 1, Attributes: map[string]any{"tenureMonths": 3.0}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ApplyChanges(at(2), []api.Change{customer(2, "C2", "bj", 4)}); err != nil {
		t.Fatal(err)
	}
	if tenure(t, c, "C2") != 4 {
		t.Fatalf("held profile not updated: %v", tenure(t, c, "C2"))
	}
	// A prefetch that read a newer state than a change still in flight
	// keeps the newer copy.
	if err := c.PutProfiles([]cache.Fetched{{Profile: protocol.Profile{ID: "C1", Region: "sh", Index: 9, Attributes: map[string]any{"tenureMonths": 20.0}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ApplyChanges(at(3), []api.Change{customer(3, "C1", "sh", 13)}); err != nil {
		t.Fatal(err)
	}
	if tenure(t, c, "C1") != 20 {
		t.Fatalf("older change overwrote a newer prefetch: %v", tenure(t, c, "C1"))
	}
	c.SetRegion("sh", true)
	if _, err := c.ApplyChanges(at(4), []api.Change{customer(4, "C3", "", 5)}); err != nil {
		t.Fatal(err)
	}
	if tenure(t, c, "C3") != 5 || c.ProfileCount() != 3 {
		t.Fatalf("unregioned profile not kept: %d profiles", c.ProfileCount())
	}
}

func TestCache_HistoryKeepsOwnAndHeldCustomersOnceAndErasureRemovesIt(t *testing.T) {
	c := open(t, t.TempDir())
	c.SetRegion("sh", false)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	if _, err := c.ApplyChanges(at(1), []api.Change{customer(1, "C1", "sh", 12)}); err != nil {
		t.Fatal(err)
	}
	mine := contact("kiosk-1", 1, "C1", now)
	if err := c.AddContacts([]protocol.ContactEvent{mine, contact("kiosk-1", 2, "C9", now)}, true); err != nil {
		t.Fatal(err)
	}
	// Pushed back by the control plane (a duplicate), and another agent's,
	// and one for a customer this agent does not hold.
	if err := c.AddContacts([]protocol.ContactEvent{mine, contact("ivr-1", 1, "C1", now.Add(time.Minute)), contact("ivr-1", 2, "C7", now)}, false); err != nil {
		t.Fatal(err)
	}
	got, err := c.Contacts("C1", now.Add(-time.Hour), 100)
	if err != nil || len(got) != 2 || got[0] != mine || got[1].AgentID != "ivr-1" {
		t.Fatalf("C1 history %+v %v", got, err)
	}
	if got, _ := c.Contacts("C7", time.Time{}, 100); len(got) != 0 {
		t.Fatalf("kept history of a customer not held: %+v", got)
	}
	if got, _ := c.Contacts("C9", time.Time{}, 100); len(got) != 1 {
		t.Fatalf("own contact for an uncached customer lost: %+v", got)
	}
	if got, _ := c.Contacts("C1", now.Add(30*time.Second), 100); len(got) != 1 || got[0].AgentID != "ivr-1" {
		t.Fatalf("window: %+v", got)
	}
	if got, _ := c.Contacts("C1", time.Time{}, 1); len(got) != 1 || got[0].AgentID != "ivr-1" {
		t.Fatalf("max keeps the newest: %+v", got)
	}
	if _, err := c.ApplyChanges(at(2), []api.Change{{Index: 2, Op: api.OpDelete, Kind: cache.KindCustomer, ID: "C1", Region: "sh"}}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.Profile("C1"); ok {
		t.Fatal("erased profile still cached")
	}
	if got, _ := c.Contacts("C1", time.Time{}, 100); len(got) != 0 {
		t.Fatalf("erased customer's history kept: %+v", got)
	}
}

func TestCache_SnapshotDropsProfilesAndHistory(t *testing.T) {
	c := open(t, t.TempDir())
	c.SetRegion("sh", false)
	if _, err := c.ApplyChanges(at(1), []api.Change{customer(1, "C1", "sh", 12)}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddContacts([]protocol.ContactEvent{contact("kiosk-1", 1, "C1", time.Now())}, true); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.ApplySnapshot(at(50), nil); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if c.ProfileCount() != 0 || c.HasProfile("C1") {
		t.Fatal("profiles survived a snapshot")
	}
	if got, _ := c.Contacts("C1", time.Time{}, 100); len(got) != 0 {
		t.Fatal("history survived a snapshot")
	}
}

func TestCache_HistoryIsBoundedInCountAndTime(t *testing.T) {
	c := open(t, t.TempDir())
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var evs []protocol.ContactEvent
	for i := range cache.MaxHistory + 10 {
		evs = append(evs, contact("kiosk-1", uint64(i+1), "C1", now.Add(time.Duration(i)*time.Second)))
	}
	evs = append(evs, contact("kiosk-1", 9999, "C1", now.Add(-cache.HistoryWindow-time.Hour)))
	if err := c.AddContacts(evs, true); err != nil {
		t.Fatal(err)
	}
	got, err := c.Contacts("C1", time.Time{}, 1000)
	if err != nil || len(got) != cache.MaxHistory || got[0].Seq != 11 || got[len(got)-1].Seq != uint64(cache.MaxHistory+10) {
		t.Fatalf("kept %d contacts, first %d: %v", len(got), got[0].Seq, err)
	}
	// Older than the window before the newest: dropped even when there is room.
	if err := c.AddContacts([]protocol.ContactEvent{contact("ivr-1", 1, "C2", now), contact("ivr-1", 2, "C2", now.Add(-cache.HistoryWindow-time.Minute))}, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Contacts("C2", time.Time{}, 1000); len(got) != 1 || got[0].Seq != 1 {
		t.Fatalf("window: %+v", got)
	}
}

func TestCache_AFetchReadBeforeAnErasureDoesNotBringTheProfileBack(t *testing.T) {
	c := open(t, t.TempDir())
	c.SetRegion("sh", false)
	if _, err := c.ApplyChanges(at(5), []api.Change{customer(5, "C1", "sh", 12)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ApplyChanges(at(9), []api.Change{{Index: 9, Op: api.OpDelete, Kind: cache.KindCustomer, ID: "C1", Region: "sh"}}); err != nil {
		t.Fatal(err)
	}
	late := cache.Fetched{Profile: protocol.Profile{ID: "C1", Region: "sh", Index: 5}, Contacts: []protocol.ContactEvent{contact("ivr-1", 1, "C1", time.Now())}}
	if erased, err := c.PutFetched(late); err != nil || !erased {
		t.Fatalf("PutFetched of a copy read before the erasure: erased %v, %v", erased, err)
	}
	if c.HasProfile("C1") {
		t.Fatal("a fetch answered before the erasure brought the profile back")
	}
	if got, _ := c.Contacts("C1", time.Time{}, 10); len(got) != 0 {
		t.Fatalf("and its contacts: %+v", got)
	}
	// Re-imported after the erasure: a newer profile is kept.
	if erased, err := c.PutFetched(cache.Fetched{Profile: protocol.Profile{ID: "C1", Region: "sh", Index: 12}}); err != nil || erased {
		t.Fatalf("PutFetched of a copy written after the erasure: erased %v, %v", erased, err)
	}
	if !c.HasProfile("C1") {
		t.Fatal("a profile written after the erasure was refused")
	}
}

func TestCache_CatalogChangedFiresForTheCatalogueNotForProfiles(t *testing.T) {
	c := open(t, t.TempDir())
	c.SetRegion("sh", false)
	ch := c.CatalogChanged()
	if _, err := c.ApplyChanges(at(1), []api.Change{customer(1, "C1", "sh", 12)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
		t.Fatal("a profile change fired CatalogChanged")
	default:
	}
	v := c.CatalogVersion()
	if _, err := c.ApplyChanges(at(2), []api.Change{put(2, "retain-10", 60)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	default:
		t.Fatal("an offer change did not fire CatalogChanged")
	}
	if c.CatalogVersion() != v+1 {
		t.Fatalf("version %d after %d", c.CatalogVersion(), v)
	}
}

func TestCache_LookupReadsProfileAndRecentHistoryTogether(t *testing.T) {
	c := open(t, t.TempDir())
	now := time.Unix(1_700_000_000, 0).UTC()
	var evs []protocol.ContactEvent
	for i := range 6 {
		evs = append(evs, contact("kiosk-1", uint64(i+1), "C1", now.Add(time.Duration(i-5)*24*time.Hour)))
	}
	if err := c.PutProfiles([]cache.Fetched{{Profile: protocol.Profile{ID: "C1", Index: 1, Attributes: map[string]any{"tenureMonths": 12.0}}, Contacts: evs}}); err != nil {
		t.Fatal(err)
	}
	// Since three days ago (events at -3, -2, -1, 0 days), at most 3: the
	// newest three, oldest first, after what buf already held.
	buf := []protocol.ContactEvent{{AgentID: "keep", Seq: 99}}
	p, got, ok, err := c.Lookup("C1", now.Add(-3*24*time.Hour), 3, buf)
	if err != nil || !ok || p.Attributes["tenureMonths"] != 12.0 {
		t.Fatalf("Lookup: %+v, %v, %v", p, ok, err)
	}
	if len(got) != 4 || got[0].Seq != 99 || got[1].Seq != 4 || got[3].Seq != 6 {
		t.Fatalf("history %+v", got)
	}
	if _, got, ok, err := c.Lookup("C9", now, 3, buf[:1]); err != nil || ok || len(got) != 1 {
		t.Fatalf("missing customer: ok %v, %d events, %v", ok, len(got), err)
	}
}
