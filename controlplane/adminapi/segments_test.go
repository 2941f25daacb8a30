package adminapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane"
	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func TestSegmentsAPI_RunScoresTheBaseWritesDerivedFieldsAndSkipsUnchanged(t *testing.T) {
	c := cptest.New(t, 1)
	ctx := context.Background()
	admin := c.Client(c.Leader())
	// 100 customers: customer i bought on (i mod 7)+1 distinct days, the
	// last of them i mod 30 days and an hour before asOf (activity at asOf
	// is after it), and has tenure i months.
	asOf := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	var ps []protocol.Profile
	var evs []protocol.ContactEvent
	seq := uint64(0)
	for i := range 100 {
		id := fmt.Sprintf("C%03d", i)
		ps = append(ps, protocol.Profile{ID: id, Attributes: map[string]any{"tenureMonths": float64(i), "recentUsage": 10.0, "earlierUsage": 10.0}})
		last := asOf.Add(-time.Hour - time.Duration(i%30)*24*time.Hour)
		for d := range i%7 + 1 {
			seq++
			evs = append(evs, protocol.ContactEvent{AgentID: "kiosk-1", Seq: seq, Time: last.Add(-time.Duration(d*9) * 24 * time.Hour),
				CustomerID: id, Channel: "kiosk", Type: protocol.ContactTransaction, Outcome: protocol.OutcomeAccepted, Value: float64(10 + i)})
		}
	}
	ps = append(ps, protocol.Profile{ID: "Z-none", Attributes: map[string]any{"tenureMonths": 1.0}}) // no purchase at all
	if _, err := admin.UpsertCustomers(ctx, ps); err != nil {
		t.Fatal(err)
	}
	cmd, err := fsm.Encode(fsm.CmdEventsIngest, 0, fsm.Envelope{Time: time.Now().UnixNano()}, fsm.EventsIngest{AgentID: "kiosk-1", Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.Store(c.Leader()).Apply(ctx, cmd); err != nil || r.Err != nil {
		t.Fatalf("ingest: %v %v", err, r)
	}

	res, err := admin.RunSegments(ctx, api.SegmentsRunRequest{AsOf: asOf})
	if err != nil {
		t.Fatal(err)
	}
	if res.Customers != 101 || res.Updated != 101 || res.Unchanged != 0 || res.Source != "ledger" {
		t.Fatalf("first run: %+v", res)
	}
	if n := res.Tiers["high"] + res.Tiers["medium"] + res.Tiers["low"]; n != 101 {
		t.Errorf("tiers %v", res.Tiers)
	}
	if res.CLV.Customers != 100 || res.CLV.BGNBD == nil || res.CLV.GammaGamma == nil || res.CLV.FittedOn != 100 || res.CLV.SpendFittedOn != res.CLV.Repeaters {
		t.Errorf("lifetime value: %+v", res.CLV)
	}
	// A customer without a purchase gets no RFM scores (NTILE over
	// non-buyers would rank them by id) and the segment "none"; with one
	// month of tenure it is "new".
	z, err := admin.Customer(ctx, "Z-none")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := z.Derived["rfm"]; ok || z.Derived["rfmSegment"] != "none" || z.Derived["lifecycleStage"] != "new" || z.Derived["valueTier"] != "low" {
		t.Errorf("Z-none derived %v", z.Derived)
	}
	if _, ok := z.Derived["clv"]; ok {
		t.Errorf("a customer without purchases got a lifetime value: %v", z.Derived)
	}
	// C090 bought on 7 days (90 mod 7 = 6, the most), the last of them an
	// hour before asOf (90 mod 30 = 0), at 100 a time: 5 on every score.
	top, err := admin.Customer(ctx, "C090")
	if err != nil {
		t.Fatal(err)
	}
	if top.Derived["rfmRecency"] != 5.0 || top.Derived["rfmFrequency"] != 5.0 || top.Derived["rfmMonetary"] != 5.0 ||
		top.Derived["rfmSegment"] != "champions" || top.Derived["lifecycleStage"] != "mature" {
		t.Errorf("C090 derived %v", top.Derived)
	}
	if v, _ := top.Derived["clv"].(float64); v <= 0 {
		t.Errorf("C090 clv %v", top.Derived["clv"])
	}

	// Nothing changed: a second run writes nothing.
	res, err = admin.RunSegments(ctx, api.SegmentsRunRequest{AsOf: asOf})
	if err != nil || res.Updated != 0 || res.Unchanged != 101 {
		t.Fatalf("second run: %+v %v", res, err)
	}
	// A re-import keeps the scores.
	if _, err := admin.UpsertCustomers(ctx, []protocol.Profile{{ID: "C090", Attributes: map[string]any{"tenureMonths": 91.0}}}); err != nil {
		t.Fatal(err)
	}
	if v, _ := admin.Customer(ctx, "C090"); v.Derived["rfm"] != "555" {
		t.Errorf("re-import dropped the scores: %v", v.Derived)
	}

	// A customer whose input attribute is not a number ≥ 0 is skipped and
	// named; the others are scored.
	if _, err := admin.UpsertCustomers(ctx, []protocol.Profile{{ID: "Z2", Attributes: map[string]any{"tenureMonths": "1e400"}}}); err != nil {
		t.Fatal(err)
	}
	r, err := admin.RunSegments(ctx, api.SegmentsRunRequest{AsOf: asOf, DryRun: true})
	if err != nil || r.Skipped != 1 || len(r.SkippedCustomers) != 1 || !strings.Contains(r.SkippedCustomers[0], "customer Z2: attribute tenureMonths") || r.Customers == 0 {
		t.Fatalf("a run with one unreadable attribute: %v %+v", err, r)
	}

	// Bad input: a config field that does not exist, half the attribute
	// inputs, a threshold out of range.
	for _, tc := range []struct {
		req  api.SegmentsRunRequest
		code api.Code
	}{
		{api.SegmentsRunRequest{Config: []byte(`{"tiers":{"top":0.5}}`)}, api.CodeUnknownField},
		{api.SegmentsRunRequest{Inputs: api.SegmentInputs{Recency: "daysSince"}}, api.CodeInvalidField},
		{api.SegmentsRunRequest{Config: []byte(`{"lifecycle":{"lapsedDays":-1,"newMonths":3,"matureMonths":12,"decliningRatio":0.8,"growingRatio":1.2}}`)}, api.CodeInvalidField},
		// A part written out is taken as written: a zero lapsedDays (or
		// highShare) is refused, not read as the default.
		{api.SegmentsRunRequest{Config: []byte(`{"lifecycle":{"lapsedDays":0}}`)}, api.CodeInvalidField},
		{api.SegmentsRunRequest{Config: []byte(`{"tiers":{"highShare":0,"mediumShare":0}}`)}, api.CodeInvalidField},
	} {
		_, err := admin.RunSegments(ctx, tc.req)
		wantCode(t, fmt.Sprintf("%+v", tc.req), err, tc.code)
	}
	// A part left out, null or {} is the defaults.
	if _, err := admin.RunSegments(ctx, api.SegmentsRunRequest{AsOf: asOf, DryRun: true, Config: []byte(`{"lifecycle":{},"tiers":null}`)}); err != nil {
		t.Errorf("empty config parts: %v", err)
	}
	// An analyst may run it; a kiosk-level role may not.
	if _, err := roleClient(t, c, 0, api.RoleAnalyst).RunSegments(ctx, api.SegmentsRunRequest{AsOf: asOf, DryRun: true}); err != nil {
		t.Errorf("analyst: %v", err)
	}
}

// The leader learns propensities on its own every LearnPropensitiesEvery,
// and applies the table only when new outcomes changed it.
func TestPropensities_LeaderLearnsPeriodicallyOnlyWhenOutcomesChange(t *testing.T) {
	c := cptest.New(t, 1, func(cfg *controlplane.Config) { cfg.LearnPropensitiesEvery = 100 * time.Millisecond })
	ctx := context.Background()
	admin := c.Client(c.Leader())
	if _, err := admin.Apply(ctx, []byte("kind: Offer\nid: retain-10\nname: R\ncategory: retention\nvalue: 10\n"), "application/yaml"); err != nil {
		t.Fatal(err)
	}
	seq := uint64(0)
	ingest := func(outcome string) {
		// A presentation and its outcome, under one decision id: an
		// outcome never presented counts for nothing.
		seq += 2
		ev := protocol.ContactEvent{AgentID: "kiosk-1", Seq: seq - 1, Time: time.Now().UTC(), CustomerID: "C1", Channel: "kiosk",
			Type: protocol.ContactOffer, Outcome: protocol.OutcomePresented, OfferID: "retain-10", DecisionID: fmt.Sprintf("d%d", seq)}
		out := ev
		out.Seq, out.Outcome = seq, outcome
		cmd, err := fsm.Encode(fsm.CmdEventsIngest, 0, fsm.Envelope{Time: time.Now().UnixNano()}, fsm.EventsIngest{AgentID: "kiosk-1", Events: []protocol.ContactEvent{ev, out}})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := c.Store(c.Leader()).Apply(ctx, cmd); err != nil || r.Err != nil {
			t.Fatalf("ingest: %v %v", err, r)
		}
	}
	table := func() (protocol.PropensityTable, uint64) {
		o, err := admin.Get(ctx, "propensities", "default", false)
		if err != nil {
			return protocol.PropensityTable{}, 0
		}
		var tab protocol.PropensityTable
		_ = json.Unmarshal(o.Doc, &tab)
		return tab, o.Index
	}
	ingest(protocol.OutcomeAccepted)
	deadline := time.Now().Add(10 * time.Second)
	for tab, _ := table(); tab.Contacts != 1; tab, _ = table() {
		if time.Now().After(deadline) {
			t.Fatalf("the leader did not learn the first outcome: %+v", tab)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, first := table()
	time.Sleep(500 * time.Millisecond) // five idle intervals
	if _, idx := table(); idx != first {
		t.Fatalf("an idle ledger re-applied the table (index %d → %d)", first, idx)
	}
	ingest(protocol.OutcomeDeclined)
	for tab, _ := table(); tab.Contacts != 2; tab, _ = table() {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("the leader did not learn the second outcome: %+v", tab)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ingestAs commits events through the leader's store as the agent agent
// logged them, numbered 1, 2, 3… (one call per agent).
func ingestAs(t *testing.T, c *cptest.Cluster, agent string, evs []protocol.ContactEvent) {
	t.Helper()
	for i := range evs {
		evs[i].AgentID, evs[i].Seq = agent, uint64(i+1)
	}
	cmd, err := fsm.Encode(fsm.CmdEventsIngest, 0, fsm.Envelope{Time: time.Now().UnixNano()}, fsm.EventsIngest{AgentID: agent, Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.Store(c.Leader()).Apply(context.Background(), cmd); err != nil || r.Err != nil {
		t.Fatalf("ingest: %v %v", err, r)
	}
}

// A run as of a past date sees the ledger as it stood then: purchases and
// contacts logged after it change nothing, in RFM, tiers, lifecycle
// stages or lifetime value. (Before, the later purchases counted: recency
// came out 0 and frequency grew, while lifetime value dropped the
// customers whose first purchase came later.)
func TestSegmentsAPI_PastAsOfIgnoresLaterActivity(t *testing.T) {
	c := cptest.New(t, 1)
	ctx := context.Background()
	admin := c.Client(c.Leader())
	asOf := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	day := func(d int) time.Time { return asOf.AddDate(0, 0, d) }
	buy := func(id string, at time.Time, v float64) protocol.ContactEvent {
		return protocol.ContactEvent{Time: at, CustomerID: id, Channel: "kiosk", Type: protocol.ContactTransaction, Outcome: protocol.OutcomeAccepted, Value: v}
	}
	// 60 customers: customer i bought on 1 + i%4 days, 20 days apart, the
	// last 2i + 1 days before asOf (so C45–C59 are lapsed), for 10 + i.
	// C00 also bought at asOf itself, which counts.
	var ps []protocol.Profile
	var before, after []protocol.ContactEvent
	for i := range 60 {
		id := fmt.Sprintf("C%02d", i)
		ps = append(ps, protocol.Profile{ID: id, Attributes: map[string]any{"tenureMonths": float64(12 + i), "recentUsage": 10.0, "earlierUsage": 10.0}})
		for d := range 1 + i%4 {
			before = append(before, buy(id, day(-(2*i+1)-20*d), float64(10+i)))
		}
		// After asOf, every customer buys twice more, big, and is
		// presented an offer.
		after = append(after, buy(id, day(3), 500), buy(id, day(40), 900),
			protocol.ContactEvent{Time: day(41), CustomerID: id, Channel: "kiosk", Type: protocol.ContactOffer, Outcome: protocol.OutcomePresented, OfferID: "o1"})
	}
	before = append(before, buy("C00", asOf, 5))
	// LATE first bought after asOf.
	ps = append(ps, protocol.Profile{ID: "LATE", Attributes: map[string]any{"tenureMonths": 1.0}})
	after = append(after, buy("LATE", day(1), 50), buy("LATE", day(8), 50))
	if _, err := admin.UpsertCustomers(ctx, ps); err != nil {
		t.Fatal(err)
	}
	ingestAs(t, c, "pos-before", before)
	first, err := admin.RunSegments(ctx, api.SegmentsRunRequest{AsOf: asOf})
	if err != nil {
		t.Fatal(err)
	}
	if first.Updated != 61 || first.Segments["none"] != 1 || first.CLV.Customers != 60 || first.CLV.BGNBD == nil {
		t.Fatalf("run on the ledger up to asOf: %+v", first)
	}
	ingestAs(t, c, "pos-after", after)
	second, err := admin.RunSegments(ctx, api.SegmentsRunRequest{AsOf: asOf})
	if err != nil {
		t.Fatal(err)
	}
	if second.Updated != 0 || second.Unchanged != 61 {
		t.Errorf("activity after asOf changed %d customers' scores (%d unchanged): %+v", second.Updated, second.Unchanged, second)
	}
	if fmt.Sprint(second.Segments, second.Tiers, second.Stages) != fmt.Sprint(first.Segments, first.Tiers, first.Stages) {
		t.Errorf("segments, tiers, stages %v %v %v; before the later activity %v %v %v",
			second.Segments, second.Tiers, second.Stages, first.Segments, first.Tiers, first.Stages)
	}
	if fmt.Sprint(second.CLV) != fmt.Sprint(first.CLV) {
		t.Errorf("lifetime value %+v; before the later activity %+v", second.CLV, first.CLV)
	}
	late, err := admin.Customer(ctx, "LATE")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := late.Derived["rfm"]; ok || late.Derived["rfmSegment"] != "none" || late.Derived["clv"] != nil {
		t.Errorf("LATE, whose purchases all came after asOf: %v", late.Derived)
	}
	// C59 last bought 119 days before asOf: lapsed, though it bought and
	// was contacted after asOf. C00 bought at asOf itself.
	for id, want := range map[string]string{"C00": "mature", "C59": "lapsed"} {
		v, err := admin.Customer(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if v.Derived["lifecycleStage"] != want {
			t.Errorf("%s derived %v, want stage %s", id, v.Derived, want)
		}
	}
	// As of a date before every purchase (the user test's --as-of
	// 2020-01-01): no one has bought, no one is ranked or valued.
	early, err := admin.RunSegments(ctx, api.SegmentsRunRequest{AsOf: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if early.Segments["none"] != 61 || len(early.Segments) != 1 || early.CLV.Customers != 0 || early.Tiers["low"] != 61 {
		t.Errorf("as of 2020-01-01: segments %v, tiers %v, lifetime value %+v", early.Segments, early.Tiers, early.CLV)
	}
	// As of tomorrow counts all of today; as of a later time would score
	// every customer as inactive since, and is refused.
	tomorrow := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	if _, err := admin.RunSegments(ctx, api.SegmentsRunRequest{AsOf: tomorrow, DryRun: true}); err != nil {
		t.Errorf("as of tomorrow: %v", err)
	}
	_, err = admin.RunSegments(ctx, api.SegmentsRunRequest{AsOf: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), DryRun: true})
	if ae := wantCode(t, "as of 2030", err, api.CodeInvalidField); ae.Field != "asOf" || !strings.Contains(ae.Message, "after now") {
		t.Errorf("as of 2030: %v", err)
	}
}

// From attributes, a customer without the RFM attributes is not ranked:
// before, it read as recency 0 (bought today) and took R=5 from the
// customers who had really bought most recently.
func TestSegmentsAPI_AttributeRFMLeavesCustomersWithoutTheAttributesUnranked(t *testing.T) {
	c := cptest.New(t, 1)
	ctx := context.Background()
	admin := c.Client(c.Leader())
	// R01–R20 have all three attributes, R20 the best of each; N1–N4
	// none of them; P1 only two.
	var ps []protocol.Profile
	for i := 1; i <= 20; i++ {
		ps = append(ps, protocol.Profile{ID: fmt.Sprintf("R%02d", i), Attributes: map[string]any{
			"recencyDays": float64(100 - 5*i), "purchaseDays": float64(i), "totalSpend": float64(30 * i)}})
	}
	for i := 1; i <= 4; i++ {
		ps = append(ps, protocol.Profile{ID: fmt.Sprintf("N%d", i), Attributes: map[string]any{"tenureMonths": 24.0}})
	}
	ps = append(ps, protocol.Profile{ID: "P1", Attributes: map[string]any{"purchaseDays": 50.0, "totalSpend": 5000.0}})
	if _, err := admin.UpsertCustomers(ctx, ps); err != nil {
		t.Fatal(err)
	}
	res, err := admin.RunSegments(ctx, api.SegmentsRunRequest{Inputs: api.SegmentInputs{Recency: "recencyDays", Frequency: "purchaseDays", Monetary: "totalSpend"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Customers != 25 || res.Segments["none"] != 5 || res.Skipped != 0 {
		t.Fatalf("run: %+v", res)
	}
	for _, id := range []string{"N1", "N4", "P1"} {
		v, err := admin.Customer(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := v.Derived["rfmRecency"]; ok || v.Derived["rfmSegment"] != "none" || v.Derived["rfm"] != nil {
			t.Errorf("%s, without all the RFM attributes, derived %v", id, v.Derived)
		}
	}
	// The twenty are ranked among themselves: four to a bucket.
	for id, want := range map[string]string{"R20": "555", "R17": "555", "R16": "444", "R01": "111"} {
		v, err := admin.Customer(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if v.Derived["rfm"] != want {
			t.Errorf("%s rfm %v, want %s", id, v.Derived["rfm"], want)
		}
	}
	// P1's spend still counts for the value tiers.
	if v, _ := admin.Customer(ctx, "P1"); v.Derived["valueTier"] != "high" {
		t.Errorf("P1 tier %v, want high", v.Derived["valueTier"])
	}
}
