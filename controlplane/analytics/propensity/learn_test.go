package propensity

import (
	"fmt"
	"testing"
)

// A customer is counted when the next one's events begin, and at Table;
// an empty customer id is a customer like any other.
func TestLearner_CountsEachCustomerWhenTheNextBegins(t *testing.T) {
	l, err := NewLearner(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Event{
		{CustomerID: "", OfferID: "O", Outcome: pre},
		{CustomerID: "x", OfferID: "O", Outcome: acc}, // x never saw it
		{CustomerID: "y", OfferID: "O", Outcome: pre},
		{CustomerID: "y", OfferID: "O", Outcome: acc},
	} {
		if err := l.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	tab, err := l.Table()
	if err != nil {
		t.Fatal(err)
	}
	checkArms(t, tab, []Arm{{OfferID: "O", N: 2, Accepted: 1, Alpha: 0.2 + 1, Beta: 1.8 + 1}})
}

// One customer's presentation and outcome per 2 events, one in ten
// customers held out and accepting anyway: the job's inner loop.
func BenchmarkLearner_Add(b *testing.B) {
	var events []Event
	for i := range 1000 {
		id := fmt.Sprintf("C%d", i)
		if i%10 == 0 {
			events = append(events, Event{CustomerID: id, CampaignID: "c", OfferID: "O", Segment: "s", Outcome: hold, DecisionID: id},
				Event{CustomerID: id, OfferID: "O", Segment: "s", Outcome: acc})
			continue
		}
		events = append(events, Event{CustomerID: id, CampaignID: "c", OfferID: "O", Segment: "s", Outcome: pre, DecisionID: id},
			Event{CustomerID: id, CampaignID: "c", OfferID: "O", Segment: "s", Outcome: dec, DecisionID: id})
	}
	l, err := NewLearner(Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := l.Add(events[i%len(events)]); err != nil {
			b.Fatal(err)
		}
	}
}
