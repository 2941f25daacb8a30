package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/propensity"
)

// Counts of one read in the singular ("1 arm", "1 use"); Chinese, which
// has no plural, says the same in both cases. These tests print through
// the commands' own printers or the CLI against a fake admin API.

// propensityResult is a learn answer with arms arms of n contacts each.
func propensityResult(t *testing.T, arms int, n int64, events, segments int) *api.PropensitiesLearnResult {
	t.Helper()
	tab := protocol.PropensityTable{SegmentField: "rfmSegment", Contacts: int64(arms) * n, PriorStrength: 2}
	for i := range arms {
		tab.Arms = append(tab.Arms, propensity.Arm{OfferID: "retain-10", Segment: []string{"champions", "lost"}[i%2], Alpha: 1, Beta: 1, N: n})
	}
	raw, err := json.Marshal(tab)
	if err != nil {
		t.Fatal(err)
	}
	return &api.PropensitiesLearnResult{Index: 11, Events: events, Segments: segments, Table: raw}
}

func TestPrintPropensities_CountsOfOneAreSingular(t *testing.T) {
	one := func() *api.PropensitiesLearnResult { return propensityResult(t, 1, 1, 1, 1) }
	dry, same := one(), one()
	dry.DryRun, same.Unchanged = true, true
	nothing := func(events int) *api.PropensitiesLearnResult {
		r := propensityResult(t, 0, 0, events, 0)
		r.NothingLearned = true
		return r
	}
	for _, c := range []struct {
		name, lang string
		r          *api.PropensitiesLearnResult
		want       string
	}{
		{"one of each", "en", one(), "learned 1 arm from 1 contact (1 ledger event naming an offer, 1 segment by rfmSegment); applied at index 11"},
		{"dry run", "en", dry, "dry run: 1 arm from 1 contact (1 ledger event naming an offer, 1 segment by rfmSegment)"},
		{"unchanged", "en", same, "learned 1 arm from 1 contact (1 ledger event naming an offer, 1 segment by rfmSegment); the stored table is already this one: nothing applied"},
		{"plurals", "en", propensityResult(t, 2, 20, 81, 2), "learned 2 arms from 40 contacts (81 ledger events naming an offer, 2 segments by rfmSegment); applied at index 11"},
		{"nothing from none", "en", nothing(0), "nothing learned: no ledger event names an offer; no table applied"},
		{"nothing from one", "en", nothing(1), "nothing learned: the 1 ledger event naming an offer is not a counted outcome (holdouts never count); no table applied"},
		{"nothing from three", "en", nothing(3), "nothing learned: none of the 3 ledger events naming an offer is a counted outcome (holdouts never count); no table applied"},
		{"chinese", "zh", one(), "已从 1 次接触学得 1 个臂（1 条含优惠的台账事件，按 rfmSegment 分 1 个群）；应用于索引 11"},
		// The ledger-event count is its own argument, not the contacts'.
		{"chinese plurals", "zh", propensityResult(t, 2, 20, 81, 2), "已从 40 次接触学得 2 个臂（81 条含优惠的台账事件，按 rfmSegment 分 2 个群）；应用于索引 11"},
		{"chinese dry run", "zh", dry, "试运行：1 次接触，1 个臂（1 条含优惠的台账事件，按 rfmSegment 分 1 个群）"},
		{"chinese unchanged", "zh", same, "从 1 次接触学得 1 个臂（1 条含优惠的台账事件，按 rfmSegment 分 1 个群）；已存的表与之相同，未应用"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := (&env{stdout: &b, lang: c.lang}).printPropensities(c.r); err != nil {
				t.Fatal(err)
			}
			if first, _, _ := strings.Cut(b.String(), "\n"); first != c.want {
				t.Errorf("first line\n%q, want\n%q", first, c.want)
			}
		})
	}
}

func TestPrintSegments_CountsOfOneAreSingular(t *testing.T) {
	asOf := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	run := func(customers int) *api.SegmentsRunResult {
		return &api.SegmentsRunResult{AsOf: asOf, Customers: customers, Source: "ledger", Updated: customers, Index: 12,
			Skipped: 1, SkippedCustomers: []string{"C9: spend is -1"}, Segments: map[string]int{"none": 1},
			CLV: api.CLVRunSummary{Customers: 1, Repeaters: 1, FittedOn: 1, SpendFittedOn: 0, HorizonWeeks: 52,
				BGNBD: map[string]float64{"r": 1, "alpha": 1, "a": 1, "b": 1}, GammaGamma: map[string]float64{"p": 1, "q": 1, "v": 1}}}
	}
	dry := run(1)
	dry.DryRun = true
	for _, c := range []struct {
		name, lang string
		r          *api.SegmentsRunResult
		req        api.SegmentsRunRequest
		want       []string
	}{
		{"ledger", "en", run(1), api.SegmentsRunRequest{}, []string{
			"scored 1 customer as of 2026-11-30 (RFM from the ledger)",
			"1 profile updated (last index 12); 0 unchanged, 0 erased meanwhile",
			"skipped 1 customer whose inputs are not numbers ≥ 0 (its stored fields stay):",
			"1 customer without a purchase by 2026-11-30: not ranked (RFM segment none)",
			"lifetime value: 1 purchaser, 52-week horizon;",
			"  Gamma-Gamma on 1 repeater: p=1",
			"BG/NBD on 1 of the 1 purchaser, Gamma-Gamma on 0 of the 1 repeater (",
		}},
		{"dry run", "en", dry, api.SegmentsRunRequest{}, []string{"dry run: 1 profile would be updated; 0 unchanged"}},
		{"plurals", "en", run(2), api.SegmentsRunRequest{}, []string{"scored 2 customers as of", "2 profiles updated (last index 12)"}},
		{"chinese", "zh", run(1), api.SegmentsRunRequest{}, []string{
			"已为 1 位客户评分，截至 2026-11-30（RFM 来自ledger）",
			"1 位客户截至 2026-11-30 没有购买",
			"客户终身价值：1 位购买客户，52 周；",
			"  Gamma-Gamma（1 位复购客户）：p=1",
			"BG/NBD 用 1 / 1 位购买客户，Gamma-Gamma 用 0 / 1 位复购客户（",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := (&env{stdout: &b, lang: c.lang}).printSegments(c.r, &c.req); err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
	r := run(1)
	r.Source = "attributes"
	var b bytes.Buffer
	req := api.SegmentsRunRequest{Inputs: api.SegmentInputs{Recency: "lastBuyDays", Frequency: "buys", Monetary: "spend"}}
	if err := (&env{stdout: &b, lang: "en"}).printSegments(r, &req); err != nil {
		t.Fatal(err)
	}
	if w := "1 customer without all of the attributes lastBuyDays, buys and spend: not ranked"; !strings.Contains(b.String(), w) {
		t.Errorf("output lacks %q:\n%s", w, b.String())
	}
}

func TestAudit_TableSaysCountsOfOneInTheSingular(t *testing.T) {
	at := time.Date(2026, 12, 3, 20, 2, 38, 0, time.UTC)
	f := newFakeAPI(t, map[string]any{"GET /v1/audit": []api.AuditEntry{
		{Index: 5, Time: at, Actor: "node:n1", Role: "admin", Action: "fleet.gossip-keys", Details: "1 keys"},
		{Index: 9, Time: at, Actor: "t", Role: "admin", Action: "customers.import", Target: "1 profiles", Details: "1 new, 0 replaced"},
		{Index: 10, Time: at, Actor: "t", Role: "admin", Action: "ledger.import", Target: "import.s1", Details: "rows 3-3 stored"},
		{Index: 11, Time: at, Actor: "t", Role: "admin", Action: "customers.derive", Target: "1 customers", Details: "1 updated, 0 not stored"},
		{Index: 12, Time: at, Actor: "t", Role: "admin", Action: "customers.erase", Target: "C1", Details: "1 ledger events anonymised"},
		{Index: 14, Time: at, Actor: "t", Role: "admin", Action: "fleet.gossip-keys", Details: "2 keys"},
		{Index: 15, Time: at, Actor: "t", Role: "admin", Action: "customers.import", Target: "12 profiles", Details: "rows 1-2 stored"},
		{Index: 16, Time: at, Actor: "t", Role: "admin", Action: "catalog.created", Target: "Offer/1 keystone"},
	}})
	t.Setenv("TOUCHPOINT_LANG", "en")
	out, errs, code := tp(t, f.url, "tok", "audit")
	if code != 0 {
		t.Fatalf("audit: exit %d: %s", code, errs)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		idx, rest, _ := strings.Cut(line, " ")
		rows[idx] = strings.Join(strings.Fields(rest), " ")
	}
	for idx, want := range map[string]string{
		"5":  "admin fleet.gossip-keys 1 key",
		"9":  "admin customers.import 1 profile 1 new, 0 replaced",
		"10": "admin ledger.import import.s1 row 3 stored",
		"11": "admin customers.derive 1 customer 1 updated, 0 not stored",
		"12": "admin customers.erase C1 1 ledger event anonymised",
		"14": "admin fleet.gossip-keys 2 keys",
		"15": "admin customers.import 12 profiles rows 1-2 stored",
		"16": "admin catalog.created Offer/1 keystone",
	} {
		if !strings.HasSuffix(rows[idx], want) {
			t.Errorf("index %s: %q, want it to end %q", idx, rows[idx], want)
		}
	}
	// -o json is the log as stored.
	js, _, _ := tp(t, f.url, "tok", "audit", "-o", "json")
	if !strings.Contains(js, `"1 profiles"`) {
		t.Errorf("audit -o json rewrote the entries:\n%s", js)
	}
}

func TestFleetToken_SaysUseOrUses(t *testing.T) {
	expires := time.Date(2026, 12, 3, 21, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		lang string
		uses int
		want string
	}{
		{"en", 1, "join token j1: 1 use, valid until 2026-12-03T21:00:00Z"},
		{"en", 3, "join token j1: 3 uses, valid until 2026-12-03T21:00:00Z"},
		{"zh", 1, "加入令牌 j1：可用 1 次，有效期至 2026-12-03T21:00:00Z"},
	} {
		f := newFakeAPI(t, map[string]any{"POST /v1/fleet/tokens": api.JoinTokenResult{ID: "j1", Token: "tpj1.x", Uses: c.uses, Expires: expires}})
		t.Setenv("TOUCHPOINT_LANG", c.lang)
		out, errs, code := tp(t, f.url, "tok", "fleet", "token")
		if first, _, _ := strings.Cut(out, "\n"); code != 0 || first != c.want {
			t.Errorf("%s, %d uses: exit %d %s, first line %q, want %q", c.lang, c.uses, code, errs, first, c.want)
		}
	}
}

func TestTokensLs_HeadsTheCreationTimeCreated(t *testing.T) {
	f := newFakeAPI(t, map[string]any{"GET /v1/tokens": []api.TokenInfo{{ID: "70a9e7720595", Role: "admin", Name: "bootstrap", Created: time.Now()}}})
	for lang, want := range map[string][]string{"en": {"ID", "ROLE", "NAME", "CREATED"}, "zh": {"编号", "角色", "名称", "创建时间"}} {
		t.Setenv("TOUCHPOINT_LANG", lang)
		out, errs, code := tp(t, f.url, "tok", "tokens", "ls")
		head, _, _ := strings.Cut(out, "\n")
		if got := strings.Fields(head); code != 0 || strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: exit %d %s, header %q, want %q", lang, code, errs, got, want)
		}
	}
}
