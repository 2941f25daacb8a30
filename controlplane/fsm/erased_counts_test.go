package fsm_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// erasureLedger is a campaign ledger for erasure tests: treated, control and
// mixed customers of winback on two channels over five days, and customers
// of spring, one of them (cust-T6-x) of both. It returns the FSM, the next
// index and the ids to erase, treated, control and mixed ones alike.
func erasureLedger(t *testing.T) (*fsm.FSM, uint64, []string) {
	t.Helper()
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, catalogApply("", offer("retain-10", 60), offer("upsell-5g", 20), offer("other-x", 30),
		campaign("winback", "retain-10", "upsell-5g"), campaign("spring", "other-x")))
	day := func(d, min int) time.Time {
		return baseTime.Add(time.Duration(d-1)*24*time.Hour + time.Duration(min)*time.Minute)
	}
	const w, sp = "winback", "spring"
	offerT, svc := protocol.ContactOffer, protocol.ContactService
	var l ledger
	// T1, kiosk, day 1 (the campaign's first event): presented and accepted
	// in one decision.
	l.add("kiosk-1", "kiosk", day(1, 1), "cust-T1-x", offerT, protocol.OutcomePresented, w, "retain-10", "dT1", 0)
	l.add("kiosk-1", "kiosk", day(1, 2), "cust-T1-x", offerT, protocol.OutcomeAccepted, w, "retain-10", "dT1", 0)
	// T2, kiosk, day 1: presented and declined, no decision id (kept).
	l.add("kiosk-1", "kiosk", day(1, 3), "cust-T2-x", offerT, protocol.OutcomePresented, w, "upsell-5g", "", 0)
	l.add("kiosk-1", "kiosk", day(1, 4), "cust-T2-x", offerT, protocol.OutcomeDeclined, w, "upsell-5g", "", 0)
	// T3, ivr, day 2: a service contact, then accepts retain-10 under no
	// campaign on day 5 with a value (the campaign's last event; day 4 has
	// no event at all).
	l.add("ivr-1", "ivr", day(2, 1), "cust-T3-x", svc, protocol.OutcomeIgnored, w, "", "", 0)
	l.add("ivr-1", "ivr", day(5, 1), "cust-T3-x", offerT, protocol.OutcomeAccepted, "", "retain-10", "", 100)
	// T4, kiosk, days 2 and 3: two decisions, accepted in the second (kept).
	l.add("kiosk-1", "kiosk", day(2, 2), "cust-T4-x", offerT, protocol.OutcomePresented, w, "retain-10", "dT4a", 0)
	l.add("kiosk-1", "kiosk", day(3, 1), "cust-T4-x", offerT, protocol.OutcomePresented, w, "retain-10", "dT4b", 0)
	l.add("kiosk-1", "kiosk", day(3, 2), "cust-T4-x", offerT, protocol.OutcomeAccepted, w, "retain-10", "dT4b", 0)
	// T5, ivr, day 2: accepts an offer the catalogue does not hold.
	l.add("ivr-1", "ivr", day(2, 3), "cust-T5-x", offerT, protocol.OutcomeAccepted, w, "ghost", "dT5", 0)
	// T6, kiosk: presented upsell-5g on day 1, accepts it on day 3 in
	// another decision; in spring, presented and accepted other-x on days 2
	// and 3.
	l.add("kiosk-1", "kiosk", day(1, 5), "cust-T6-x", offerT, protocol.OutcomePresented, w, "upsell-5g", "dT6a", 0)
	l.add("kiosk-1", "kiosk", day(2, 4), "cust-T6-x", offerT, protocol.OutcomePresented, sp, "other-x", "dT6s", 0)
	l.add("kiosk-1", "kiosk", day(3, 3), "cust-T6-x", offerT, protocol.OutcomeAccepted, w, "upsell-5g", "dT6b", 0)
	l.add("kiosk-1", "kiosk", day(3, 4), "cust-T6-x", offerT, protocol.OutcomeAccepted, sp, "other-x", "dT6s", 0)
	// H1, kiosk, day 1: held out, accepts retain-10 under no campaign on
	// day 3: the control group's success.
	l.add("kiosk-1", "kiosk", day(1, 6), "cust-H1-x", offerT, protocol.OutcomeHoldout, w, "retain-10", "dH1", 0)
	l.add("kiosk-1", "kiosk", day(3, 5), "cust-H1-x", offerT, protocol.OutcomeAccepted, "", "retain-10", "", 0)
	// H2, ivr, day 2: held out, nothing else.
	l.add("ivr-1", "ivr", day(2, 5), "cust-H2-x", offerT, protocol.OutcomeHoldout, w, "upsell-5g", "dH2", 0)
	// H3, kiosk, day 3: held out (kept).
	l.add("kiosk-1", "kiosk", day(3, 6), "cust-H3-x", offerT, protocol.OutcomeHoldout, w, "retain-10", "dH3", 0)
	// M1, ivr: held out on day 1, presented on day 3: control, mixed.
	l.add("ivr-1", "ivr", day(1, 7), "cust-M1-x", offerT, protocol.OutcomeHoldout, w, "retain-10", "dM1a", 0)
	l.add("ivr-1", "ivr", day(3, 7), "cust-M1-x", offerT, protocol.OutcomePresented, w, "retain-10", "dM1b", 0)
	// X1, spring only, held out (kept).
	l.add("kiosk-1", "kiosk", day(2, 6), "cust-X1-x", offerT, protocol.OutcomeHoldout, sp, "other-x", "dX1", 0)
	idx := uint64(2)
	for _, cmd := range l.commands() {
		applyOK(t, f, idx, cmd)
		idx++
	}
	// Some customers have profiles, some only ledger events.
	applyOK(t, f, idx, upsert(customer("cust-T1-x", "sh", nil), customer("cust-H1-x", "", nil), customer("cust-T2-x", "sh", nil)))
	idx++
	return f, idx, []string{"cust-T1-x", "cust-H1-x", "cust-T3-x", "cust-M1-x", "cust-T6-x", "cust-H2-x", "cust-T5-x"}
}

// continueLedger numbers new events after those the agents committed.
func continueLedger(t *testing.T, f *fsm.FSM) *ledger {
	t.Helper()
	l := &ledger{seq: map[string]uint64{}, events: map[string][]protocol.ContactEvent{}}
	for _, a := range []string{"kiosk-1", "ivr-1"} {
		m, err := f.AgentMark(a)
		if err != nil {
			t.Fatal(err)
		}
		l.seq[a] = m
	}
	return l
}

// campaignCounts reads a campaign's counts with Index zeroed.
func campaignCounts(t *testing.T, f *fsm.FSM, id string) fsm.CampaignCounts {
	t.Helper()
	c, err := f.CampaignCounts(id)
	if err != nil {
		t.Fatalf("counts of %s: %v", id, err)
	}
	c.Index = 0
	return c
}

func sameCounts(t *testing.T, when string, got, want fsm.CampaignCounts) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("%s: counts of %s changed\n got %s\nwant %s", when, want.Campaign.ID, g, w)
	}
}

func eraseResult(t *testing.T, r *fsm.Result) fsm.CustomerEraseResult {
	t.Helper()
	var res fsm.CustomerEraseResult
	if err := json.Unmarshal(r.Data, &res); err != nil {
		t.Fatalf("erase result %s: %v", r.Data, err)
	}
	return res
}

// storedMentions lists the keys, and the values outside the audit log and
// the change feed (which name an erased id by design), holding s.
func storedMentions(t *testing.T, f *fsm.FSM, s string) []string {
	t.Helper()
	var out []string
	err := f.EachKey(func(k, v []byte) {
		switch {
		case bytes.Contains(k, []byte(s)):
			out = append(out, "key "+string(k))
		case bytes.HasPrefix(k, []byte("a/")) || bytes.HasPrefix(k, []byte("x/")):
		case bytes.Contains(v, []byte(s)):
			out = append(out, "value of "+string(k))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Erasing customers leaves every campaign's counts as they were: the erase
// counts each customer into the campaign's erased aggregate before its
// events move to the shared anonymous id, which the report skips.
func TestErasedCounts_EraseKeepsCampaignCounts(t *testing.T) {
	f, idx, erased := erasureLedger(t)
	want := map[string]fsm.CampaignCounts{"winback": campaignCounts(t, f, "winback"), "spring": campaignCounts(t, f, "spring")}
	// The ledger is what the comments say it is.
	wb := want["winback"]
	if wb.Treatment.Targeted != 6 || wb.Control.Targeted != 4 || wb.Mixed != 1 || wb.UnknownOffers != 2 ||
		wb.Treatment.Accepted != 5 || wb.Control.Accepted != 1 || len(wb.Channels) != 2 || len(wb.Days) != 5 {
		t.Fatalf("winback before erasure: %+v", wb)
	}
	if sp := want["spring"]; sp.Treatment.Targeted != 1 || sp.Control.Targeted != 1 || sp.Treatment.Accepted != 1 {
		t.Fatalf("spring before erasure: %+v", sp)
	}
	total, _, _ := f.ContactStats()
	moved := 0
	for _, id := range erased {
		res := eraseResult(t, applyOK(t, f, idx, erase(id)))
		idx++
		if res.More || res.Anonymized == 0 {
			t.Fatalf("erase %s: %+v", id, res)
		}
		moved += res.Anonymized
		for _, c := range []string{"winback", "spring"} {
			sameCounts(t, "after erasing "+id, campaignCounts(t, f, c), want[c])
		}
	}
	// The events are all there, under the anonymous id.
	if evs, _ := f.ContactsByCustomer(fsm.ErasedCustomer, baseTime.Add(-time.Hour), 0); len(evs) != moved || moved != 14 {
		t.Errorf("%d events under %s, %d moved, want 14", len(evs), fsm.ErasedCustomer, moved)
	}
	if now, _, _ := f.ContactStats(); now != total {
		t.Errorf("ledger total %d, was %d", now, total)
	}
	for _, id := range erased {
		if got := storedMentions(t, f, id); len(got) != 0 {
			t.Errorf("%s is still stored: %v", id, got)
		}
	}
	// A new event of a kept customer counts as before the erasures.
	l := continueLedger(t, f)
	l.add("kiosk-1", "kiosk", baseTime.Add(5*24*time.Hour), "cust-H3-x", protocol.ContactOffer, protocol.OutcomeAccepted, "", "retain-10", "", 0)
	applyOK(t, f, idx, l.commands()[0])
	got := campaignCounts(t, f, "winback")
	if got.Control.Accepted != wb.Control.Accepted+1 || got.Control.Value != wb.Control.Value+60 || len(got.Days) != 6 {
		t.Errorf("after H3 accepts: control %+v, %d days", got.Control, len(got.Days))
	}
}

// A ledger longer than one erase entry moves is counted once, by the first
// entry, over all its events; between the entries the report skips what is
// left of it, so the counts never change. The marker of the erase in
// progress travels with a snapshot and is gone after the last entry.
func TestErasedCounts_EraseInSeveralEntriesKeepsCampaignCounts(t *testing.T) {
	defer fsm.SetMaxEraseEvents(2)()
	f, idx, erased := erasureLedger(t)
	// One more treated customer with a long ledger: presented every day on
	// both channels, in decisions of two events, accepting on day 3.
	l := continueLedger(t, f)
	for d := range 4 {
		at := baseTime.Add(time.Duration(d)*24*time.Hour + 30*time.Minute)
		dec := "dL" + string(rune('a'+d))
		l.add("ivr-1", "ivr", at, "cust-L1-x", protocol.ContactOffer, protocol.OutcomePresented, "winback", "retain-10", dec, 0)
		outcome := protocol.OutcomeDeclined
		if d == 2 {
			outcome = protocol.OutcomeAccepted
		}
		l.add("kiosk-1", "kiosk", at.Add(time.Minute), "cust-L1-x", protocol.ContactOffer, outcome, "winback", "retain-10", dec, 0)
	}
	for _, cmd := range l.commands() {
		applyOK(t, f, idx, cmd)
		idx++
	}
	erased = append([]string{"cust-L1-x"}, erased...)
	want := map[string]fsm.CampaignCounts{"winback": campaignCounts(t, f, "winback"), "spring": campaignCounts(t, f, "spring")}
	if want["winback"].Treatment.Targeted != 7 {
		t.Fatalf("winback before erasure: %+v", want["winback"].Treatment)
	}
	check := func(f *fsm.FSM, when string) {
		t.Helper()
		for _, c := range []string{"winback", "spring"} {
			sameCounts(t, when, campaignCounts(t, f, c), want[c])
		}
	}
	marker := func(f *fsm.FSM, id string) bool {
		t.Helper()
		for _, m := range storedMentions(t, f, id) {
			if m == "key e/p/"+id {
				return true
			}
		}
		return false
	}
	var snapshot []byte
	snapshotIdx := uint64(0)
	moved := 0
	for _, id := range erased {
		for step := 1; ; step++ {
			res := eraseResult(t, applyOK(t, f, idx, erase(id)))
			idx++
			moved += res.Anonymized
			if res.Anonymized == 0 || res.Anonymized > 2 || res.Profile != (step == 1 && (id == "cust-T1-x" || id == "cust-H1-x")) {
				t.Fatalf("erase %s, entry %d: %+v", id, step, res)
			}
			check(f, "erase of "+id+", entry "+string(rune('0'+step)))
			if marker(f, id) != res.More {
				t.Fatalf("erase %s, entry %d: more %v, marker %v", id, step, res.More, !res.More)
			}
			if id == "cust-L1-x" && step == 2 {
				snapshot, snapshotIdx = persist(t, f), idx
			}
			if !res.More {
				break
			}
			if step > 10 {
				t.Fatal("the erase does not end")
			}
		}
	}
	if moved != 14+8 {
		t.Errorf("%d events moved, want 22", moved)
	}
	for _, id := range erased {
		if got := storedMentions(t, f, id); len(got) != 0 {
			t.Errorf("%s is still stored: %v", id, got)
		}
	}
	if evs, _ := f.ContactsByCustomer(fsm.ErasedCustomer, baseTime.Add(-time.Hour), 0); len(evs) != moved {
		t.Errorf("%d events under %s, %d moved", len(evs), fsm.ErasedCustomer, moved)
	}

	// A node restored from a snapshot taken between two entries of an erase
	// has its marker, counts the same, and finishes the erase the same way.
	dst := openFSM(t, fsm.Config{})
	dst.Started()
	if err := restore(dst, snapshot); err != nil {
		t.Fatal(err)
	}
	if !marker(dst, "cust-L1-x") {
		t.Fatal("the restored state has no marker of the erase in progress")
	}
	check(dst, "restored mid-erase")
	for i := snapshotIdx; ; i++ {
		res := eraseResult(t, applyOK(t, dst, i, erase("cust-L1-x")))
		check(dst, "restored, continuing")
		if !res.More {
			break
		}
	}
	if marker(dst, "cust-L1-x") {
		t.Error("marker left after the last entry")
	}
}

// Every node writes the same aggregate bytes whatever order Go iterates
// maps in.
func TestErasedCounts_AggregateIsDeterministic(t *testing.T) {
	var runs [][]byte
	for range 3 {
		f, idx, erased := erasureLedger(t)
		for _, id := range erased {
			applyOK(t, f, idx, erase(id))
			idx++
		}
		var agg []byte
		if err := f.EachKey(func(k, v []byte) {
			if strings.HasPrefix(string(k), "e/") {
				agg = append(append(append(agg, k...), '='), v...)
			}
		}); err != nil {
			t.Fatal(err)
		}
		if len(agg) == 0 {
			t.Fatal("no erased aggregate stored")
		}
		runs = append(runs, agg)
	}
	for i := 1; i < len(runs); i++ {
		if !bytes.Equal(runs[i], runs[0]) {
			t.Fatalf("run %d stored\n%s\nrun 0\n%s", i, runs[i], runs[0])
		}
	}
}

// Erasing an id with nothing stored still changes nothing.
func TestErasedCounts_RefusedEraseWritesNoAggregate(t *testing.T) {
	f, idx, _ := erasureLedger(t)
	if r := apply(t, f, idx, erase("nobody")); r.Err == nil || r.Err.Code != api.CodeNotFound {
		t.Fatalf("erase unknown: %+v", r.Err)
	}
	if got := storedMentions(t, f, "e/c/"); len(got) != 0 {
		t.Errorf("aggregate written by a refused erase: %v", got)
	}
}

// An erase applied in the same batch (one badger transaction) as the events
// it moves counts them too.
func TestErasedCounts_EraseInTheBatchOfItsEvents(t *testing.T) {
	f, idx, _ := erasureLedger(t)
	l := continueLedger(t, f)
	at := baseTime.Add(6 * 24 * time.Hour)
	l.add("kiosk-1", "kiosk", at, "cust-B1-x", protocol.ContactOffer, protocol.OutcomePresented, "winback", "retain-10", "dB1", 0)
	l.add("kiosk-1", "kiosk", at.Add(time.Minute), "cust-B1-x", protocol.ContactOffer, protocol.OutcomeAccepted, "winback", "retain-10", "dB1", 0)
	applyOK(t, f, idx, l.commands()[0])
	want := campaignCounts(t, f, "winback")

	g, gidx, _ := erasureLedger(t)
	logs := []*raft.Log{logAt(t, gidx, l.commands()[0]), logAt(t, gidx+1, erase("cust-B1-x"))}
	for i, r := range g.ApplyBatch(logs) {
		if res := asResult(t, r); res.Err != nil {
			t.Fatalf("entry %d: %+v", i, res.Err)
		}
	}
	sameCounts(t, "erased in its events' batch", campaignCounts(t, g, "winback"), want)
}
