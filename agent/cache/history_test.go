package cache_test

import (
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol"
)

// A contact cap counts holdouts (agent/decide's contact policy), so the
// history keeps them next to the customer's other contacts.
func TestCache_HistoryKeepsHoldouts(t *testing.T) {
	c := open(t, t.TempDir())
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	presented := contact("ivr-1", 1, "C1", now)
	held := contact("kiosk-1", 1, "C1", now.Add(time.Second))
	held.Outcome = protocol.OutcomeHoldout
	if err := c.AddContacts([]protocol.ContactEvent{presented, held}, true); err != nil {
		t.Fatal(err)
	}
	got, err := c.Contacts("C1", time.Time{}, 1000)
	if err != nil || len(got) != 2 || got[1].Outcome != protocol.OutcomeHoldout {
		t.Fatalf("history %+v (%v), want the presented contact and the holdout", got, err)
	}
}
