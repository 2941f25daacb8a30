package agent

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/agent/decide"
	"touchpoint.dev/touchpoint/agent/decide/decidetest"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// encodingJSON is what api.WriteJSON writes.
func encodingJSON(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func checkSameJSON(t *testing.T, d *api.Decision) {
	t.Helper()
	got, ok := appendDecisionJSON(nil, d)
	if !ok {
		t.Fatalf("appendDecisionJSON refused %+v", d)
	}
	if want := encodingJSON(t, d); !bytes.Equal(got, want) {
		t.Fatalf("appendDecisionJSON differs from encoding/json:\n got %s\nwant %s", got, want)
	}
}

// The hand-written encoder writes the engine's decisions byte for byte as
// encoding/json does, over decidetest's catalogue (ranked, suppressed,
// held out, tariff advice).
func TestAppendDecisionJSON_MatchesEncodingJSON(t *testing.T) {
	eng := decide.Compile(decidetest.Catalog())
	now := time.Date(2026, 12, 1, 10, 30, 0, 123456789, time.UTC)
	rng := rand.New(rand.NewPCG(3, 4))
	holdouts := 0
	for i := range 300 {
		p := decidetest.Profile(rng.IntN(1_000_000))
		in := decide.Input{DecisionID: "d-" + decidetest.CustomerID(i), CustomerID: p.ID, Channel: protocol.KnownChannels[i%len(protocol.KnownChannels)],
			Now: now.Add(time.Duration(i) * time.Hour), Profile: &p}
		if i%4 == 0 {
			in.Intent = "cancel"
		}
		d := eng.Decide(in)
		holdouts += len(d.Holdout)
		checkSameJSON(t, &d)
	}
	if holdouts == 0 {
		t.Fatal("no decision held a campaign out: the test misses that list")
	}
}

// Every optional part, nil against empty, and strings and floats that
// need encoding/json's care.
func TestAppendDecisionJSON_EdgeCases(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	strs := []string{"", "plain", `quote " and \ back`, "tab\tnew\nline\rcr\bbs\fff", "\x00\x01\x1f\x7f", "<html> & 'x'",
		"中文 offre déjà", "bad \xff utf8 \xc3", "line\u2028sep\u2029", "emoji 🎉"}
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-7, -1e-7, 1.5e-10, 1e20, 1e21, 123456789012345678901234.0, math.MaxFloat64, math.SmallestNonzeroFloat64, 2.5e-6}
	for _, s := range strs {
		for _, x := range floats {
			d := api.Decision{DecisionID: s, CustomerID: s, Channel: s, Intent: s, ConfigIndex: math.MaxUint64,
				Time:       time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 8*3600)),
				Offers:     []api.DecisionOffer{{OfferID: s, CampaignID: s, Name: s, Category: s, Rank: -3, Score: x, Propensity: x, Value: x, Weight: x, ContextWeight: x, LeverWeight: x, Transactional: true, PlanID: s, Reason: s}, {}},
				Suppressed: []api.SuppressedOffer{{OfferID: s, CampaignID: s, Code: api.SuppressionCode(s), Reason: s}, {}},
				Holdout:    []api.Holdout{{CampaignID: s, OfferIDs: []string{s, s}}, {}, {OfferIDs: []string{}}},
				ChurnRisk:  f(x), ChurnLevel: s, ChurnModel: s, ChurnModelVersion: -2, Segment: s,
				Tariff: &api.TariffAdvice{CurrentPlanID: s, CurrentBill: f(x), CurrentBillSource: s, Usage: api.TariffUsage{VoiceMinutes: x, DataMB: x, SMS: x}, UsageError: s,
					Plans: []api.PlanBill{{PlanID: s, Name: s, Bill: x, Saving: f(x), Current: true}, {}}},
			}
			checkSameJSON(t, &d)
		}
	}
	checkSameJSON(t, &api.Decision{})
	checkSameJSON(t, &api.Decision{Offers: []api.DecisionOffer{}, Suppressed: []api.SuppressedOffer{}, Holdout: []api.Holdout{}, Tariff: &api.TariffAdvice{Plans: []api.PlanBill{}}})
	checkSameJSON(t, &api.Decision{Tariff: &api.TariffAdvice{}})
	for _, bad := range []api.Decision{
		{ChurnRisk: f(math.NaN())},
		{Offers: []api.DecisionOffer{{Score: math.Inf(1)}}},
		{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if _, ok := appendDecisionJSON(nil, &bad); ok {
			t.Fatalf("appendDecisionJSON accepted what encoding/json refuses: %+v", bad)
		}
	}
}

// FuzzAppendDecisionJSON_String holds the string encoding to
// encoding/json's for any bytes.
func FuzzAppendDecisionJSON_String(f *testing.F) {
	for _, s := range []string{"", "a\"b\\c", "\x00\x1f\u2028\u2029", "\xff\xfe", "中文", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var w jsonWriter
		w.str(s)
		want := bytes.TrimSuffix(encodingJSON(t, s), []byte("\n"))
		if !bytes.Equal(w.b, want) {
			t.Fatalf("%q: got %s, want %s", s, w.b, want)
		}
	})
}

// A field added to the answer's types must be added to appendDecisionJSON
// too: this counts them.
func TestAppendDecisionJSON_KnowsEveryField(t *testing.T) {
	for _, c := range []struct {
		v    any
		want int
	}{
		{api.Decision{}, 15}, {api.DecisionOffer{}, 14}, {api.SuppressedOffer{}, 4}, {api.Holdout{}, 2},
		{api.TariffAdvice{}, 6}, {api.TariffUsage{}, 3}, {api.PlanBill{}, 5},
	} {
		if n := reflect.TypeOf(c.v).NumField(); n != c.want {
			t.Errorf("%T has %d fields, appendDecisionJSON writes %d: update it (and this test)", c.v, n, c.want)
		}
	}
}
