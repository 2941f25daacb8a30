package protocol_test

import (
	"strconv"
	"strings"
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
