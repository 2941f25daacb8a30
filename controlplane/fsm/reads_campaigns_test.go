package fsm_test

import (
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// ledger numbers events per agent as agents do.
type ledger struct {
	seq    map[string]uint64
	events map[string][]protocol.ContactEvent
}

func (l *ledger) add(agent, channel string, at time.Time, customer, typ, outcome, campaign, offerID, decision string, value float64) {
	if l.seq == nil {
		l.seq, l.events = map[string]uint64{}, map[string][]protocol.ContactEvent{}
	}
	l.seq[agent]++
	l.events[agent] = append(l.events[agent], protocol.ContactEvent{AgentID: agent, Seq: l.seq[agent], Time: at, CustomerID: customer,
		Channel: channel, Type: typ, Outcome: outcome, CampaignID: campaign, OfferID: offerID, DecisionID: decision, Value: value})
}

func (l *ledger) commands() []command {
	var out []command
	for _, agent := range []string{"kiosk-1", "ivr-1"} {
		out = append(out, command{typ: fsm.CmdEventsIngest, payload: fsm.EventsIngest{AgentID: agent, Events: l.events[agent]}})
	}
	return out
}

// The scenario behind every count is written out beside each customer;
// docs/CAMPAIGNS.md has the definitions.
func TestCampaignCounts_TreatmentControlChannelsDays(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, catalogApply("", offer("retain-10", 60), offer("upsell-5g", 20), offer("other-x", 30), campaign("winback", "retain-10", "upsell-5g")))

	d1, d3 := baseTime, baseTime.Add(48*time.Hour) // 2026-03-01 and 03-03; 03-02 has nothing
	m := func(t time.Time, n int) time.Time { return t.Add(time.Duration(n) * time.Minute) }
	const c = "winback"
	var l ledger
	offerT, svc := protocol.ContactOffer, protocol.ContactService
	// T1, kiosk, day 1: presented and accepted in one decision: one contact
	// (cost 5), accepted, value 60 from the catalogue.
	l.add("kiosk-1", "kiosk", m(d1, 1), "T1", offerT, protocol.OutcomePresented, c, "retain-10", "d1", 0)
	l.add("kiosk-1", "kiosk", m(d1, 2), "T1", offerT, protocol.OutcomeAccepted, c, "retain-10", "d1", 0)
	// T2, kiosk, day 1: presented and declined without a decision id: two
	// contacts (cost 10), not accepted.
	l.add("kiosk-1", "kiosk", m(d1, 3), "T2", offerT, protocol.OutcomePresented, c, "upsell-5g", "", 0)
	l.add("kiosk-1", "kiosk", m(d1, 4), "T2", offerT, protocol.OutcomeDeclined, c, "upsell-5g", "", 0)
	// T3, ivr, day 3: a service contact of the campaign (contacted, not
	// presented, no offer: cost 0), then accepts retain-10 outside any
	// campaign with value 100.
	l.add("ivr-1", "ivr", m(d3, 1), "T3", svc, protocol.OutcomeIgnored, c, "", "", 0)
	l.add("ivr-1", "ivr", m(d3, 2), "T3", offerT, protocol.OutcomeAccepted, "", "retain-10", "", 100)
	// T4, kiosk, day 3: accepts an offer the catalogue does not hold, in the
	// campaign's name: accepted, no cost or value, two unknown-offer uses.
	l.add("kiosk-1", "kiosk", m(d3, 3), "T4", offerT, protocol.OutcomeAccepted, c, "ghost", "d4", 0)
	// H1, kiosk, day 1: held out; accepts retain-10 on day 3 anyway (value
	// 60 from the catalogue): the control group's success.
	l.add("kiosk-1", "kiosk", m(d1, 5), "H1", offerT, protocol.OutcomeHoldout, c, "retain-10", "d5", 0)
	l.add("kiosk-1", "kiosk", m(d3, 4), "H1", offerT, protocol.OutcomeAccepted, "", "retain-10", "", 0)
	// H2, ivr, day 1: held out, then presented on day 3 (the percentage
	// changed): stays in control, contacted and presented there, mixed.
	l.add("ivr-1", "ivr", m(d1, 6), "H2", offerT, protocol.OutcomeHoldout, c, "retain-10", "d6", 0)
	l.add("ivr-1", "ivr", m(d3, 5), "H2", offerT, protocol.OutcomePresented, c, "retain-10", "d7", 0)
	// H3, kiosk, day 3: accepted retain-10 before being held out: the
	// acceptance precedes assignment and does not count.
	l.add("kiosk-1", "kiosk", m(d3, 6), "H3", offerT, protocol.OutcomeAccepted, "", "retain-10", "", 0)
	l.add("kiosk-1", "kiosk", m(d3, 7), "H3", offerT, protocol.OutcomeHoldout, c, "retain-10", "d8", 0)
	// X1: another campaign and another offer: not counted.
	l.add("kiosk-1", "kiosk", m(d1, 7), "X1", offerT, protocol.OutcomeAccepted, "spring", "other-x", "d9", 0)
	// T1 again, another campaign's offer: not counted.
	l.add("kiosk-1", "kiosk", m(d3, 8), "T1", offerT, protocol.OutcomeAccepted, "spring", "other-x", "", 0)
	for i, cmd := range l.commands() {
		applyOK(t, f, uint64(2+i), cmd)
	}

	got, err := f.CampaignCounts(c)
	if err != nil {
		t.Fatal(err)
	}
	type g = fsm.CampaignGroupCounts
	wantT := g{Targeted: 4, Contacted: 4, Presented: 3, Accepted: 3, Contacts: 5, Acceptances: 3, Cost: 15, Value: 160}
	wantC := g{Targeted: 3, Contacted: 1, Presented: 1, Accepted: 1, Contacts: 1, Acceptances: 1, Cost: 5, Value: 60}
	if got.Treatment != wantT {
		t.Errorf("treatment\n got %+v\nwant %+v", got.Treatment, wantT)
	}
	if got.Control != wantC {
		t.Errorf("control\n got %+v\nwant %+v", got.Control, wantC)
	}
	if got.Mixed != 1 || got.UnknownOffers != 2 || got.Campaign.ID != c || got.Index != 3 {
		t.Errorf("mixed %d, unknown offers %d, campaign %q, index %d; want 1, 2, winback, 3", got.Mixed, got.UnknownOffers, got.Campaign.ID, got.Index)
	}
	if !got.FirstEvent.Equal(m(d1, 1)) || !got.LastEvent.Equal(m(d3, 7)) {
		t.Errorf("events from %v to %v", got.FirstEvent, got.LastEvent)
	}

	wantChannels := []fsm.CampaignChannelCounts{
		{Channel: "ivr",
			Treatment: g{Targeted: 1, Contacted: 1, Accepted: 1, Contacts: 1, Acceptances: 1, Value: 100},
			Control:   g{Targeted: 1, Contacted: 1, Presented: 1, Contacts: 1, Cost: 5}},
		{Channel: "kiosk",
			Treatment: g{Targeted: 3, Contacted: 3, Presented: 3, Accepted: 2, Contacts: 4, Acceptances: 2, Cost: 15, Value: 60},
			Control:   g{Targeted: 2, Accepted: 1, Acceptances: 1, Value: 60}},
	}
	if len(got.Channels) != len(wantChannels) {
		t.Fatalf("channels %+v", got.Channels)
	}
	for i, w := range wantChannels {
		if got.Channels[i] != w {
			t.Errorf("channel %d\n got %+v\nwant %+v", i, got.Channels[i], w)
		}
	}

	wantDays := []fsm.CampaignDayCounts{
		{Day: "2026-03-01",
			Treatment: g{Targeted: 2, Contacted: 2, Presented: 2, Accepted: 1, Contacts: 3, Acceptances: 1, Cost: 15, Value: 60},
			Control:   g{Targeted: 2}},
		{Day: "2026-03-02"},
		{Day: "2026-03-03",
			Treatment: g{Targeted: 2, Contacted: 2, Presented: 1, Accepted: 2, Contacts: 2, Acceptances: 2, Value: 100},
			Control:   g{Targeted: 1, Contacted: 1, Presented: 1, Accepted: 1, Contacts: 1, Acceptances: 1, Cost: 5, Value: 60}},
	}
	if len(got.Days) != len(wantDays) {
		t.Fatalf("days %+v", got.Days)
	}
	for i, w := range wantDays {
		if got.Days[i] != w {
			t.Errorf("day %d\n got %+v\nwant %+v", i, got.Days[i], w)
		}
	}

	// Another campaign sees only its own events.
	applyOK(t, f, 4, catalogApply("", campaign("spring", "other-x")))
	sp, err := f.CampaignCounts("spring")
	if err != nil {
		t.Fatal(err)
	}
	// X1 and T1 each accepted other-x in spring's name: both treatment.
	if want := (g{Targeted: 2, Contacted: 2, Presented: 2, Accepted: 2, Contacts: 2, Acceptances: 2, Cost: 10, Value: 60}); sp.Treatment != want || sp.Control != (g{}) {
		t.Errorf("spring: treatment %+v control %+v, want %+v and nothing", sp.Treatment, sp.Control, want)
	}
}

func TestCampaignCounts_UnknownCampaignAndEmptyLedger(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	_, err := f.CampaignCounts("nope")
	if api.CodeOf(err) != api.CodeNotFound {
		t.Fatalf("unknown campaign: %v, want not_found", err)
	}
	applyOK(t, f, 1, catalogApply("", offer("retain-10", 60), campaign("winback", "retain-10")))
	got, err := f.CampaignCounts("winback")
	if err != nil {
		t.Fatal(err)
	}
	if got.Treatment != (fsm.CampaignGroupCounts{}) || got.Control != (fsm.CampaignGroupCounts{}) || len(got.Days) != 0 ||
		len(got.Channels) != 0 || !got.FirstEvent.IsZero() || got.Days == nil || got.Channels == nil {
		t.Errorf("empty ledger: %+v", got)
	}
}
