package adminapi_test

import (
	"context"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// A customer id no contact can carry is invalid_field, not an empty list
// that reads as "no contacts"; the bucket of erased customers' events
// (fsm.ErasedCustomer) can be listed.
func TestContactsAPI_InvalidCustomerIDIsRefused(t *testing.T) {
	cl, st, _ := soloAPI(t, nil)
	ctx := context.Background()
	ev := protocol.ContactEvent{AgentID: "kiosk-1", Seq: 1, Time: time.Now().UTC().Truncate(time.Second), CustomerID: "C1",
		Channel: "kiosk", Type: "offer", Outcome: "presented"}
	cmd, err := fsm.Encode(fsm.CmdEventsIngest, 0, fsm.Envelope{Time: time.Now().UnixNano()}, fsm.EventsIngest{AgentID: "kiosk-1", Events: []protocol.ContactEvent{ev}})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := st.Apply(ctx, cmd); r.Err != nil {
		t.Fatal(r.Err)
	}
	if evs, err := cl.Contacts(ctx, "C1", "", 0); err != nil || len(evs) != 1 {
		t.Fatalf("contacts of C1: %v %v", evs, err)
	}
	for _, id := range []string{"a b", "..", "C1/x", "x\x00"} {
		_, err := cl.Contacts(ctx, id, "", 0)
		if ae := wantCode(t, id, err, api.CodeInvalidField); ae.Field != "customer" {
			t.Errorf("%q: field %q, want customer", id, ae.Field)
		}
	}
	if evs, err := cl.Contacts(ctx, fsm.ErasedCustomer, "", 0); err != nil || len(evs) != 0 {
		t.Fatalf("contacts of %s: %v %v", fsm.ErasedCustomer, evs, err)
	}
}
