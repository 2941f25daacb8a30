package fsm_test

import (
	"reflect"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
)

func TestEventsIngest_BinaryRoundTrip(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	p := fsm.EventsIngest{AgentID: "kiosk-1", Events: []protocol.ContactEvent{
		{AgentID: "kiosk-1", Seq: 1, Time: time.Date(2026, 12, 1, 18, 0, 0, 123456789, shanghai), CustomerID: "客户-1",
			Channel: "kiosk", Site: "上海-01", Type: "offer", Outcome: "accepted", DecisionID: "d1", CampaignID: "winback-q4",
			OfferID: "retain-10", Value: 60.5},
		{AgentID: "kiosk-1", Seq: 1 << 40, Time: time.Unix(0, 0).UTC(), CustomerID: "C2", Channel: "ivr", Type: "complaint", Outcome: "ignored"},
	}}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got fsm.EventsIngest
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	for i := range p.Events {
		if !got.Events[i].Time.Equal(p.Events[i].Time) || got.Events[i].Time.Location() != time.UTC {
			t.Fatalf("event %d time %v, want %v in UTC", i, got.Events[i].Time, p.Events[i].Time)
		}
		p.Events[i].Time = p.Events[i].Time.UTC()
	}
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, p)
	}
	for cut := 0; cut < len(b); cut++ {
		var q fsm.EventsIngest
		if err := q.UnmarshalBinary(b[:cut]); err == nil {
			t.Fatalf("a payload cut at %d of %d decoded", cut, len(b))
		}
	}
}

// FuzzEventsIngestBinary: any bytes decode or fail without panicking, and
// what decodes encodes back to the same bytes.
func FuzzEventsIngestBinary(f *testing.F) {
	b, _ := fsm.EventsIngest{AgentID: "a", Events: []protocol.ContactEvent{{AgentID: "a", Seq: 1, CustomerID: "C1", Channel: "kiosk", Type: "offer", Outcome: "presented"}}}.MarshalBinary()
	f.Add(b)
	f.Add([]byte{1, 1, 'a', 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte(`{"agentId":"a","events":[]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var p fsm.EventsIngest
		if err := p.UnmarshalBinary(in); err != nil || (len(in) > 0 && in[0] == '{') {
			return
		}
		out, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded payload does not encode: %v", err)
		}
		var q fsm.EventsIngest
		if err := q.UnmarshalBinary(out); err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("re-decode: %v", err)
		}
	})
}
