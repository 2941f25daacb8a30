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
	// last of them i mod 30 days before asOf, and has tenure i months.
	asOf := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	var ps []protocol.Profile
	var evs []protocol.ContactEvent
	seq := uint64(0)
	for i := range 100 {
		id := fmt.Sprintf("C%03d", i)
		ps = append(ps, protocol.Profile{ID: id, Attributes: map[string]any{"tenureMonths": float64(i), "recentUsage": 10.0, "earlierUsage": 10.0}})
		last := asOf.Add(-time.Duration(i%30) * 24 * time.Hour)
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
	if res.CLV.Customers != 100 || res.CLV.BGNBD == nil || res.CLV.GammaGamma == nil {
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
	// C090 bought on 7 days (90 mod 7 = 6, the most), the last of them on
	// asOf (90 mod 30 = 0), at 100 a time: 5 on every score.
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
	} {
		_, err := admin.RunSegments(ctx, tc.req)
		wantCode(t, fmt.Sprintf("%+v", tc.req), err, tc.code)
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
		seq++
		ev := protocol.ContactEvent{AgentID: "kiosk-1", Seq: seq, Time: time.Now().UTC(), CustomerID: "C1", Channel: "kiosk",
			Type: protocol.ContactOffer, Outcome: outcome, OfferID: "retain-10", DecisionID: fmt.Sprintf("d%d", seq)}
		cmd, err := fsm.Encode(fsm.CmdEventsIngest, 0, fsm.Envelope{Time: time.Now().UnixNano()}, fsm.EventsIngest{AgentID: "kiosk-1", Events: []protocol.ContactEvent{ev}})
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
