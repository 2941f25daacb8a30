package protocol_test

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"touchpoint.dev/touchpoint/protocol"
)

func TestStrings_InternsUpToItsBoundAndNeverChangesAValue(t *testing.T) {
	s := protocol.NewStrings(3)
	a, b := s.Of([]byte("kiosk")), s.Of([]byte("kiosk"))
	if a != "kiosk" || unsafe.StringData(a) != unsafe.StringData(b) {
		t.Fatalf("%q and %q are not one interned string", a, b)
	}
	for i := range 10 {
		v := "offer-" + strconv.Itoa(i)
		if got := s.Of([]byte(v)); got != v {
			t.Fatalf("Of(%q) = %q", v, got)
		}
	}
	if s.Len() != 3 {
		t.Fatalf("table holds %d strings, want its bound 3", s.Len())
	}
	long := strings.Repeat("x", protocol.MaxInternedLen+1)
	if got := protocol.NewStrings(10).Of([]byte(long)); got != long {
		t.Fatal("a long string changed")
	}
	var none *protocol.Strings
	if none.Of([]byte("ivr")) != "ivr" || none.Len() != 0 {
		t.Fatal("a nil table must pass strings through")
	}
}

func TestDecodeEventListInto_AppendsAndInterns(t *testing.T) {
	at := time.Unix(1_700_000_000, 0).UTC()
	evs := []protocol.ContactEvent{
		{AgentID: "kiosk-1", Seq: 1, Time: at, CustomerID: "C1", Channel: "kiosk", Type: protocol.ContactOffer, Outcome: protocol.OutcomePresented, OfferID: "retain-10", DecisionID: "d1"},
		{AgentID: "kiosk-1", Seq: 2, Time: at.Add(time.Second), CustomerID: "C1", Channel: "kiosk", Type: protocol.ContactOffer, Outcome: protocol.OutcomeAccepted, OfferID: "retain-10", CampaignID: "winback-q4", Value: 12.5},
	}
	b := protocol.AppendEventList(nil, evs)
	strs := protocol.NewStrings(64)
	prefix := []protocol.ContactEvent{{AgentID: "x", Seq: 9}}
	got, err := protocol.DecodeEventListInto(prefix, b, strs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Seq != 9 || got[1] != evs[0] || got[2] != evs[1] {
		t.Fatalf("decoded %+v", got)
	}
	if unsafe.StringData(got[1].OfferID) != unsafe.StringData(got[2].OfferID) {
		t.Fatal("the offer id was not interned")
	}
	if got, err := protocol.DecodeEventListInto(prefix, b[:len(b)-3], strs); err == nil || len(got) != 1 {
		t.Fatalf("truncated list: %d events, error %v", len(got), err)
	}
}

// Concurrent lookups and additions agree on one string per value, and the
// table ends holding exactly its bound (run with -race).
func TestStrings_ConcurrentLookupsAgree(t *testing.T) {
	const bound = 500
	s := protocol.NewStrings(bound)
	var wg sync.WaitGroup
	got := make([][]string, 4)
	for g := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2 * bound {
				got[g] = append(got[g], s.Of([]byte("v"+strconv.Itoa(i%(bound+100)))))
			}
		}()
	}
	wg.Wait()
	if s.Len() != bound {
		t.Fatalf("table holds %d strings, want its bound %d", s.Len(), bound)
	}
	interned := 0
	for i := range 2 * bound {
		want := "v" + strconv.Itoa(i%(bound+100))
		first := got[0][i]
		same := true
		for g := range got {
			if got[g][i] != want {
				t.Fatalf("goroutine %d: Of(%q) = %q", g, want, got[g][i])
			}
			same = same && unsafe.StringData(got[g][i]) == unsafe.StringData(first)
		}
		if same {
			interned++
		}
	}
	// Values looked up once the table was full may be allocated anew by
	// each goroutine; everything held by the table is one string.
	if again := s.Of([]byte("v0")); unsafe.StringData(again) != unsafe.StringData(s.Of([]byte("v0"))) {
		t.Fatal("a held string is not returned as one")
	}
	if interned < bound/2 {
		t.Fatalf("only %d of %d lookups agreed on one string", interned, 2*bound)
	}
}
