package fsm_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
)

func TestActivities_SumPurchasesPerCustomerByDay(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	tx := func(seq uint64, customer string, at time.Time, value float64) protocol.ContactEvent {
		return protocol.ContactEvent{AgentID: "kiosk-1", Seq: seq, Time: at, CustomerID: customer, Channel: "kiosk",
			Type: protocol.ContactTransaction, Outcome: protocol.OutcomeAccepted, Value: value}
	}
	evs := []protocol.ContactEvent{
		tx(1, "C1", day.Add(9*time.Hour), 10),
		tx(2, "C1", day.Add(17*time.Hour), 5),    // same day as the first: one purchase
		tx(3, "C1", day.Add(50*time.Hour), 20),   // a repeat purchase two days later
		tx(4, "C1", day.Add(51*time.Hour), 2),    // on the same repeat day
		tx(5, "C1", day.Add(240*time.Hour), 30),  // and ten days after the first
		tx(6, "C2", day.Add(300*time.Hour), 7.5), // C2: one purchase
	}
	late := contact("kiosk-1", 7, "C2") // an offer presented, later than any purchase
	late.Time = day.Add(400 * time.Hour)
	hold := contact("kiosk-1", 8, "C3") // C3 was only held out
	hold.Time, hold.Outcome = day.Add(500*time.Hour), protocol.OutcomeHoldout
	evs = append(evs, late, hold)
	applyOK(t, f, 1, command{typ: fsm.CmdEventsIngest, payload: fsm.EventsIngest{AgentID: "kiosk-1", Events: evs}})
	got, err := f.Activities(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	c1 := fsm.Activity{Transactions: 5, Spend: 67, PurchaseDays: 3, FirstPurchase: day, LastPurchase: day.Add(240 * time.Hour),
		RepeatSpend: 52, LastContact: day.Add(240 * time.Hour)}
	if got["C1"] != c1 {
		t.Errorf("C1 = %+v\nwant %+v", got["C1"], c1)
	}
	c2 := fsm.Activity{Transactions: 1, Spend: 7.5, PurchaseDays: 1, FirstPurchase: day.Add(288 * time.Hour), LastPurchase: day.Add(288 * time.Hour),
		LastContact: day.Add(400 * time.Hour)}
	if got["C2"] != c2 {
		t.Errorf("C2 = %+v\nwant %+v", got["C2"], c2)
	}
	if a, ok := got["C3"]; ok {
		t.Errorf("a holdout counted as activity: %+v", a)
	}
	// As of 100 hours in: C1's last purchase and all of C2 come later.
	asOf, err := f.Activities(day.Add(100 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c1 = fsm.Activity{Transactions: 4, Spend: 37, PurchaseDays: 2, FirstPurchase: day, LastPurchase: day.Add(48 * time.Hour),
		RepeatSpend: 22, LastContact: day.Add(51 * time.Hour)}
	if asOf["C1"] != c1 {
		t.Errorf("C1 as of 100 h = %+v\nwant %+v", asOf["C1"], c1)
	}
	if a, ok := asOf["C2"]; ok {
		t.Errorf("C2 as of 100 h, before any event of it: %+v", a)
	}
	// An event exactly at asOf is after it: as of a date's midnight, a
	// purchase imported with that date does not count yet.
	if asOf, err = f.Activities(day.Add(300 * time.Hour)); err != nil {
		t.Fatal(err)
	} else if a, ok := asOf["C2"]; ok {
		t.Errorf("C2 as of its purchase's instant = %+v", a)
	}
	if asOf, err = f.Activities(day.Add(300*time.Hour + time.Nanosecond)); err != nil || asOf["C2"].Transactions != 1 || !asOf["C2"].LastContact.Equal(day.Add(300*time.Hour)) {
		t.Errorf("C2 as of just after its purchase = %+v (%v)", asOf["C2"], err)
	}
}

func TestEachProfile_VisitsEveryProfileInIDOrder(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, upsert(customer("C2", "sh", map[string]any{"a": 2.0}), customer("C1", "", map[string]any{"a": 1.0}), customer("C3", "bj", nil)))
	var ids []string
	if err := f.EachProfile(func(p *protocol.Profile) error { ids = append(ids, p.ID+"@"+p.Region); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 || ids[0] != "C1@" || ids[1] != "C2@sh" || ids[2] != "C3@bj" {
		t.Fatalf("visited %v", ids)
	}
}

// Thousands of profiles cross the reader's chunks and both decoders: the
// order holds, derived fields join the right profile, and an error from
// fn stops the walk at once.
func TestEachProfile_ManyProfilesInOrderAndFnErrorStops(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	const n = 5000
	var ps []protocol.Profile
	var ds []fsm.DerivedFields
	for i := range n {
		id := fmt.Sprintf("C%05d", i)
		ps = append(ps, customer(id, "", map[string]any{"i": float64(i)}))
		if i%3 == 0 {
			ds = append(ds, derived(id, map[string]any{"i3": float64(i)}))
		}
	}
	applyOK(t, f, 1, upsert(ps...))
	applyOK(t, f, 2, derive(1, ds...))
	i := 0
	if err := f.EachProfile(func(p *protocol.Profile) error {
		if p.ID != fmt.Sprintf("C%05d", i) || p.Attributes["i"] != float64(i) {
			return fmt.Errorf("profile %d is %+v", i, *p)
		}
		if v, ok := p.Derived["i3"]; ok != (i%3 == 0) || ok && v != float64(i) {
			return fmt.Errorf("profile %d derived %v", i, p.Derived)
		}
		i++
		return nil
	}); err != nil || i != n {
		t.Fatalf("after %d profiles: %v", i, err)
	}
	stop := errors.New("enough")
	calls := 0
	err := f.EachProfile(func(*protocol.Profile) error {
		calls++
		if calls == 700 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 700 {
		t.Fatalf("fn's error: %v after %d calls", err, calls)
	}
}
