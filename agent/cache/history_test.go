package cache_test

import (
	"testing"
	"time"

	"touchpoint.dev/touchpoint/agent/cache"
	"touchpoint.dev/touchpoint/protocol"
)

// Decisions do not count holdout contacts, so histories do not keep them:
// a customer held out at every decision keeps the contacts that count.
func TestCache_HistoryLeavesHoldoutsOut(t *testing.T) {
	c := open(t, t.TempDir())
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	presented := contact("ivr-1", 1, "C1", now)
	evs := []protocol.ContactEvent{presented}
	for i := range cache.MaxHistory + 10 {
		h := contact("kiosk-1", uint64(i+1), "C1", now.Add(time.Duration(i+1)*time.Second))
		h.Outcome = protocol.OutcomeHoldout
		evs = append(evs, h)
	}
	if err := c.AddContacts(evs[:1], true); err != nil {
		t.Fatal(err)
	}
	if err := c.AddContacts(evs[1:], true); err != nil {
		t.Fatal(err)
	}
	got, err := c.Contacts("C1", time.Time{}, 1000)
	if err != nil || len(got) != 1 || got[0] != presented {
		t.Fatalf("history %d contacts (%v), want only the presented one", len(got), err)
	}
}
