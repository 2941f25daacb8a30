package propensity

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/propensity"
)

// A simulated customer base: five offers in three segments with known
// true acceptance rates. Offers A–D have a history of 150 contacts per
// segment; E is brand new (no contacts) and is the best offer for the
// young segment. The best offer leads the runner-up by 0.10 in every
// segment.
var (
	simOffers   = []string{"A", "B", "C", "D", "E"}
	simSegments = []string{"young", "family", "senior"}
	simRates    = [][]float64{ // [segment][offer]
		{0.05, 0.10, 0.20, 0.02, 0.30}, // young: E (new) best
		{0.12, 0.25, 0.08, 0.15, 0.05}, // family: B best
		{0.22, 0.04, 0.10, 0.12, 0.03}, // senior: A best
	}
)

const (
	simHistory = 150   // past contacts per (old offer, segment)
	simRounds  = 24000 // customers arriving, segment uniform at random
	simPush    = 400   // rounds between table rebuilds (a push to agents)
)

type simResult struct {
	pulls        [3][5]int // all rounds
	earlyPulls   [3][5]int // first 1,000 rounds
	lateBest     [3]int    // last 20% of rounds: best offer chosen
	lateRounds   [3]int
	regretHalves [2]float64 // expected regret, first and second half
	table        *Table
}

// simulate runs Thompson sampling over the simulated base: each round a
// customer of a random segment arrives, the agent draws from every
// offer's posterior (from the last table pushed) and presents the
// largest; the customer accepts with the offer's true rate. Every
// contact is logged as a presented event and its final outcome under one
// decision id; one round in ten, another customer is held out of the
// campaign and accepts a random offer anyway, which must not count.
func simulate(t *testing.T, seed uint64) simResult {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 0xc0ffee))
	var ledger []Event
	for s, seg := range simSegments {
		for o, offer := range simOffers[:4] {
			for i := range simHistory {
				out := protocol.OutcomeDeclined
				if r.Float64() < simRates[s][o] {
					out = protocol.OutcomeAccepted
				}
				// Presented, then the outcome without a decision id: the
				// acceptance joins the customer's latest presentation.
				c := Event{CustomerID: fmt.Sprintf("past-%s-%s-%d", seg, offer, i), CampaignID: "sim", OfferID: offer, Segment: seg, Outcome: protocol.OutcomePresented}
				ledger = append(ledger, c)
				c.Outcome = out
				ledger = append(ledger, c)
			}
		}
	}
	var res simResult
	var tab *Table
	post := make([]Beta, len(simOffers))
	failures := []string{protocol.OutcomeDeclined, protocol.OutcomeIgnored, protocol.OutcomePresented}
	for round := range simRounds {
		if round%simPush == 0 {
			var err error
			if tab, err = BuildTable(ledger, Config{}); err != nil {
				t.Fatal(err)
			}
		}
		s := r.IntN(len(simSegments))
		for o, offer := range simOffers {
			b, err := tab.Posterior(offer, simSegments[s], 0) // every offer's catalogue prior is the default 0.1
			if err != nil {
				t.Fatal(err)
			}
			post[o] = b
		}
		o := propensity.Thompson(r, post, nil)
		rate, best := simRates[s][o], bestRate(s)
		res.regretHalves[2*round/simRounds] += best - rate
		res.pulls[s][o]++
		if round < 1000 {
			res.earlyPulls[s][o]++
		}
		if round >= simRounds*8/10 {
			res.lateRounds[s]++
			if rate == best {
				res.lateBest[s]++
			}
		}
		id := fmt.Sprintf("d%d", round)
		ev := Event{CustomerID: "c" + id, CampaignID: "sim", OfferID: simOffers[o], Segment: simSegments[s], Outcome: protocol.OutcomePresented, DecisionID: id}
		ledger = append(ledger, ev)
		ev.Outcome = failures[r.IntN(len(failures))]
		if r.Float64() < rate {
			ev.Outcome = protocol.OutcomeAccepted
		}
		ledger = append(ledger, ev)
		if round%10 == 0 {
			held := Event{CustomerID: "h" + id, CampaignID: "sim", OfferID: simOffers[r.IntN(5)], Segment: simSegments[s], Outcome: protocol.OutcomeHoldout, DecisionID: "h" + id}
			ledger = append(ledger, held)
			held.Outcome = protocol.OutcomeAccepted
			ledger = append(ledger, held)
		}
	}
	var err error
	if res.table, err = BuildTable(ledger, Config{}); err != nil {
		t.Fatal(err)
	}
	return res
}

func bestRate(s int) float64 {
	best := 0.0
	for _, p := range simRates[s] {
		best = max(best, p)
	}
	return best
}

func TestThompson_SimulatedCustomerBase(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			res := simulate(t, seed)
			// Uniform random choice loses the mean gap every round: the
			// linear-regret baseline.
			random := 0.0
			for s := range simSegments {
				gap := 0.0
				for _, p := range simRates[s] {
					gap += bestRate(s) - p
				}
				random += gap / float64(len(simOffers)) * simRounds / float64(len(simSegments))
			}
			total := res.regretHalves[0] + res.regretHalves[1]
			t.Logf("pulls %v; first 1000 rounds %v; late best %v of %v; regret halves %.1f / %.1f (random choice: %.0f)",
				res.pulls, res.earlyPulls, res.lateBest, res.lateRounds, res.regretHalves[0], res.regretHalves[1], random)

			// (a) Posterior means converge on the true rates for arms that
			// got enough exposure: within 4 standard errors plus the
			// prior's pull (worth 2 contacts).
			tested := 0
			for s, seg := range simSegments {
				for o, offer := range simOffers {
					arm, ok := res.table.Lookup(offer, seg)
					if !ok || arm.N < 300 {
						continue
					}
					tested++
					p := simRates[s][o]
					mean := arm.Posterior().Mean()
					tol := 4*math.Sqrt(p*(1-p)/float64(arm.N)) + 2/float64(arm.N)
					if math.Abs(mean-p) > tol {
						t.Errorf("%s/%s: posterior mean %.4f after %d contacts, true rate %.2f (tolerance %.4f)", offer, seg, mean, arm.N, p, tol)
					}
					lo, hi := arm.Posterior().CredibleInterval(0.95)
					t.Logf("%s/%s: n=%d accepted=%d mean %.4f 95%% [%.4f, %.4f] true %.2f", offer, seg, arm.N, arm.Accepted, mean, lo, hi, p)
				}
			}
			if tested < 3 {
				t.Errorf("only %d arms reached 300 contacts", tested)
			}
			// The table counts one trial per round (presented and its
			// outcome joined; the held-out customers' acceptances
			// dropped) on top of the history.
			var n int64
			for _, a := range res.table.Arms {
				n += a.N
			}
			if want := int64(simRounds + 12*simHistory); n != want {
				t.Errorf("table counts %d contacts, want %d", n, want)
			}
			// (b) The best offer of each segment is chosen in at least 97%
			// of that segment's customers in the last 20% of rounds.
			for s, seg := range simSegments {
				if frac := float64(res.lateBest[s]) / float64(res.lateRounds[s]); frac < 0.97 {
					t.Errorf("%s: best offer chosen in %.1f%% of the last rounds, want ≥ 97%%", seg, 100*frac)
				}
			}
			// (c) The new offer E was explored early in every segment, and
			// became the young segment's choice.
			for s, seg := range simSegments {
				if res.earlyPulls[s][4] == 0 {
					t.Errorf("%s: new offer E never presented in the first 1,000 rounds", seg)
				}
			}
			if res.pulls[0][4] < res.pulls[0][2] {
				t.Errorf("young: new best offer E presented %d times, fewer than C (%d)", res.pulls[0][4], res.pulls[0][2])
			}
			// (d) Regret grows sub-linearly: the second half costs less
			// than half of the first, and the whole run a small fraction
			// of choosing at random.
			if res.regretHalves[1] >= 0.5*res.regretHalves[0] {
				t.Errorf("regret second half %.1f ≥ half the first half's %.1f: not sub-linear", res.regretHalves[1], res.regretHalves[0])
			}
			if total > 0.05*random {
				t.Errorf("total regret %.1f > 5%% of random choice's %.0f", total, random)
			}
		})
	}
}
