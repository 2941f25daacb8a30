package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
)

func TestCLI_SegmentsRunWritesScoresIntoProfiles(t *testing.T) {
	c := cptest.New(t, 1)
	addr := c.Nodes[0].URL()
	var csv strings.Builder
	csv.WriteString("customerID,tenureMonths,recentUsage,earlierUsage,lastBuyDays,buys,spend\n")
	for i := range 60 {
		fmt.Fprintf(&csv, "C%02d,%d,%d,100,%d,%d,%d\n", i, i, 50+3*i, i%20, 1+i%6, 10*i)
	}
	if r := importFile(t, addr, c.Token, writeFile(t, "c.csv", csv.String()), "--id-column", "customerID"); r.Imported != 60 {
		t.Fatalf("import %+v", r)
	}
	// Purchases for C00–C54 in the ledger: C54 bought on the most days,
	// most recently, for the most.
	asOf := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	var evs []protocol.ContactEvent
	for i := range 55 {
		for d := range 1 + i/8 {
			evs = append(evs, protocol.ContactEvent{AgentID: "pos-1", Seq: uint64(len(evs) + 1), Time: asOf.Add(-time.Duration(55-i+d*3) * 24 * time.Hour),
				CustomerID: fmt.Sprintf("C%02d", i), Channel: "kiosk", Type: protocol.ContactTransaction, Outcome: protocol.OutcomeAccepted, Value: float64(5 + i + d)})
		}
	}
	cmd, err := fsm.Encode(fsm.CmdEventsIngest, 0, fsm.Envelope{Time: time.Now().UnixNano()}, fsm.EventsIngest{AgentID: "pos-1", Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.Store(0).Apply(context.Background(), cmd); err != nil || r.Err != nil {
		t.Fatalf("ingest: %v %v", err, r)
	}

	out := mustTP(t, addr, c.Token, "segments", "run", "--as-of", "2026-11-30")
	for _, want := range []string{"scored 60 customers as of 2026-11-30 (RFM from the ledger)", "60 profiles updated", "RFM segments:", "none 5", "lifetime value: 55 purchasers"} {
		if !strings.Contains(out, want) {
			t.Errorf("segments run output lacks %q:\n%s", want, out)
		}
	}
	v := showJSON(t, addr, c.Token, "C54")
	d, _ := v["derived"].(map[string]any)
	if d["rfm"] != "555" || d["rfmSegment"] != "champions" || d["lifecycleStage"] != "growing" || d["valueTier"] != "high" {
		t.Errorf("C54 derived %v", d)
	}
	if clv, _ := d["clv"].(float64); clv <= 0 {
		t.Errorf("C54 clv %v", d["clv"])
	}
	// C15: 15 months, usage 95 against 100 (trend 0.95), last seen 40
	// days ago: mature.
	if d := showJSON(t, addr, c.Token, "C15")["derived"].(map[string]any); d["lifecycleStage"] != "mature" {
		t.Errorf("C15 derived %v", d)
	}
	if show := mustTP(t, addr, c.Token, "customers", "show", "C54"); !strings.Contains(show, "rfmSegment") {
		t.Errorf("customers show does not list the derived fields:\n%s", show)
	}

	// From attributes, as a dry run: everyone is ranked, nothing written.
	js := mustTP(t, addr, c.Token, "segments", "run", "--as-of", "2026-11-30", "--recency", "lastBuyDays", "--frequency", "buys",
		"--monetary", "spend", "--dry-run", "-o", "json")
	var rep struct {
		Source    string         `json:"source"`
		Updated   int            `json:"updated"`
		DryRun    bool           `json:"dryRun"`
		Segments  map[string]int `json:"segments"`
		Customers int            `json:"customers"`
	}
	if err := json.Unmarshal([]byte(js), &rep); err != nil || rep.Source != "attributes" || !rep.DryRun || rep.Segments["none"] != 0 || rep.Customers != 60 {
		t.Fatalf("dry run %s: %v", js, err)
	}
	if v := showJSON(t, addr, c.Token, "C59"); v["derived"].(map[string]any)["rfmSegment"] != "none" {
		t.Errorf("a dry run wrote: %v", v["derived"])
	}

	// A bad configuration names the field and changes nothing.
	cfg := writeFile(t, "seg.yaml", "tiers: {highShare: 0.5, top: 1}\n")
	_, errOut, code := tp(t, addr, c.Token, "segments", "run", "--config", cfg)
	if code == 0 || !strings.Contains(errOut, "unknown_field") || !strings.Contains(errOut, "config.top") {
		t.Errorf("bad config: exit %d, %s", code, errOut)
	}
}

func TestCLI_PropensitiesLearnFromTheLedgerBySegment(t *testing.T) {
	c := cptest.New(t, 1)
	addr := c.Nodes[0].URL()
	mustTP(t, addr, c.Token, "apply", "-f", writeFile(t, "cat.yaml", `kind: Offer
id: retain-10
name: Retention 10
category: retention
value: 10
propensity: 0.2
`))
	var ps []protocol.Profile
	for i := range 40 {
		seg := "champions"
		if i%2 == 1 {
			seg = "lost"
		}
		ps = append(ps, protocol.Profile{ID: fmt.Sprintf("C%02d", i), Derived: map[string]any{"rfmSegment": seg}})
	}
	if _, err := c.Client(0).UpsertCustomers(context.Background(), ps); err != nil {
		t.Fatal(err)
	}
	// Nothing in the ledger yet: nothing is learned, no table applied (an
	// empty one would turn every ranking into draws from the priors).
	if out := mustTP(t, addr, c.Token, "propensities", "learn"); !strings.Contains(out, "nothing learned") {
		t.Errorf("learn on an empty ledger:\n%s", out)
	}
	if _, errOut, code := tp(t, addr, c.Token, "get", "propensities", "default"); code == 0 || !strings.Contains(errOut, "not_found") {
		t.Errorf("an empty ledger applied a table: exit %d %s", code, errOut)
	}
	// Every customer was shown retain-10 once (presented, then the
	// outcome under the same decision id); champions accepted 15 of 20,
	// lost 2 of 20. A holdout never counts.
	var evs []protocol.ContactEvent
	at := time.Now().UTC().Add(-time.Hour)
	add := func(customer, decision, outcome string) {
		evs = append(evs, protocol.ContactEvent{AgentID: "kiosk-1", Seq: uint64(len(evs) + 1), Time: at.Add(time.Duration(len(evs)) * time.Second),
			CustomerID: customer, Channel: "kiosk", Type: protocol.ContactOffer, Outcome: outcome, OfferID: "retain-10", DecisionID: decision})
	}
	for i := range 40 {
		id, dec := fmt.Sprintf("C%02d", i), fmt.Sprintf("d%02d", i)
		add(id, dec, protocol.OutcomePresented)
		if i%2 == 0 && i < 30 || i%2 == 1 && i < 4 {
			add(id, dec, protocol.OutcomeAccepted)
		} else {
			add(id, dec, protocol.OutcomeDeclined)
		}
	}
	add("C00", "d-hold", protocol.OutcomeHoldout)
	cmd, err := fsm.Encode(fsm.CmdEventsIngest, 0, fsm.Envelope{Time: time.Now().UnixNano()}, fsm.EventsIngest{AgentID: "kiosk-1", Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.Store(0).Apply(context.Background(), cmd); err != nil || r.Err != nil {
		t.Fatalf("ingest: %v %v", err, r)
	}

	out := mustTP(t, addr, c.Token, "propensities", "learn")
	if !strings.Contains(out, "learned 2 arms from 40 contacts (81 ledger events naming an offer, 2 segments by rfmSegment)") {
		t.Errorf("learn output:\n%s", out)
	}
	// The same ledger again: the stored table is this one, nothing applied.
	if out := mustTP(t, addr, c.Token, "propensities", "learn"); !strings.Contains(out, "the stored table is already this one: nothing applied") {
		t.Errorf("learn twice on an unchanged ledger:\n%s", out)
	}
	got := mustTP(t, addr, c.Token, "get", "propensities", "default", "-o", "json")
	var tab protocol.PropensityTable
	if err := json.Unmarshal([]byte(got), &tab); err != nil {
		t.Fatalf("get propensities default: %v\n%s", err, got)
	}
	// Prior Beta(0.4, 1.6) from propensity 0.2 and strength 2.
	want := map[string][2]float64{"champions": {0.4 + 15, 1.6 + 5}, "lost": {0.4 + 2, 1.6 + 18}}
	if len(tab.Arms) != 2 || tab.Contacts != 40 || tab.SegmentField != "rfmSegment" {
		t.Fatalf("table %+v", tab)
	}
	for _, a := range tab.Arms {
		if w := want[a.Segment]; a.OfferID != "retain-10" || a.N != 20 || !near(a.Alpha, w[0]) || !near(a.Beta, w[1]) {
			t.Errorf("arm %+v, want α %v β %v of 20", a, w[0], w[1])
		}
	}
	_, errOut, code := tp(t, addr, c.Token, "propensities", "learn", "--explore-below", "-5")
	if code == 0 || !strings.Contains(errOut, "exploreBelow") {
		t.Errorf("explore-below -5: exit %d %s", code, errOut)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// The run's text answer names the customers it does not rank, and
// --clv-weeks speaks the CLI's words: 0 skips lifetime value, a negative
// horizon is a usage error. A lifecycle threshold written as 0 is
// refused, not read as the default.
func TestCLI_SegmentsRunReportsUnrankedCustomersAndChecksItsFlags(t *testing.T) {
	c := cptest.New(t, 1)
	addr := c.Nodes[0].URL()
	var ps []protocol.Profile
	for i := range 10 {
		ps = append(ps, protocol.Profile{ID: fmt.Sprintf("C%d", i), Attributes: map[string]any{"lastBuyDays": float64(i), "buys": float64(1 + i), "spend": float64(10 * i)}})
	}
	for i := range 3 {
		ps = append(ps, protocol.Profile{ID: fmt.Sprintf("N%d", i), Attributes: map[string]any{"tenureMonths": 5.0}})
	}
	if _, err := c.Client(0).UpsertCustomers(context.Background(), ps); err != nil {
		t.Fatal(err)
	}
	out := mustTP(t, addr, c.Token, "segments", "run", "--recency", "lastBuyDays", "--frequency", "buys", "--monetary", "spend", "--dry-run", "--clv-weeks", "0")
	for _, want := range []string{
		"3 customers without all of the attributes lastBuyDays, buys and spend: not ranked (RFM segment none)",
		"lifetime value not computed (--clv-weeks 0)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "clvHorizonWeeks") {
		t.Errorf("output speaks of the API's field:\n%s", out)
	}
	out = mustTP(t, addr, c.Token, "segments", "run", "--as-of", "2026-11-30", "--dry-run")
	if !strings.Contains(out, "13 customers without a purchase by 2026-11-30: not ranked (RFM segment none)") {
		t.Errorf("ledger run output:\n%s", out)
	}
	for _, args := range [][]string{{"--recency", "x"}, {"--recency", "x", "--frequency", "y"}, {"--as-of", "30/11/2026"}} {
		_, errOut, code := tp(t, addr, c.Token, append([]string{"segments", "run", "--dry-run"}, args...)...)
		if code == 0 || !strings.Contains(errOut, "error: usage: --") || strings.Contains(errOut, "inputs: inputs") {
			t.Errorf("%v: exit %d, %s", args, code, errOut)
		}
	}
	for _, w := range []string{"-5", "NaN", "Inf"} {
		_, errOut, code := tp(t, addr, c.Token, "segments", "run", "--dry-run", "--clv-weeks", w)
		if code == 0 || !strings.Contains(errOut, "error: usage: --clv-weeks") {
			t.Errorf("--clv-weeks %s: exit %d, %s", w, code, errOut)
		}
	}
	cfg := writeFile(t, "seg.yaml", "lifecycle: {lapsedDays: 0}\n")
	_, errOut, code := tp(t, addr, c.Token, "segments", "run", "--dry-run", "--config", cfg)
	if code == 0 || !strings.Contains(errOut, "invalid_field") || !strings.Contains(errOut, "lapsed days 0") {
		t.Errorf("lapsedDays 0: exit %d, %s", code, errOut)
	}
}
