package fsm

import (
	"testing"

	"touchpoint.dev/touchpoint/protocol"
)

func TestContactFeed_ReadsInOrderAndSkipsWhatItForgot(t *testing.T) {
	var f FSM
	ev := func(seq uint64) protocol.ContactEvent { return protocol.ContactEvent{AgentID: "a", Seq: seq} }
	f.contacts.publish([]protocol.ContactEvent{ev(1), ev(2), ev(3)})
	got, next, lost := f.ContactsAfter(1, 10)
	if len(got) != 2 || got[0].Seq != 2 || got[1].Seq != 3 || next != 3 || lost != 0 {
		t.Fatalf("got %v next %d lost %d", got, next, lost)
	}
	if got, next, _ := f.ContactsAfter(3, 10); len(got) != 0 || next != 3 {
		t.Fatalf("at the head: %v %d", got, next)
	}
	// A position from before a restart (beyond the head) reads from the head.
	if got, next, _ := f.ContactsAfter(99, 10); len(got) != 0 || next != 3 {
		t.Fatalf("beyond the head: %v %d", got, next)
	}
	batch := make([]protocol.ContactEvent, contactFeedSize)
	for i := range batch {
		batch[i] = ev(uint64(4 + i))
	}
	f.contacts.publish(batch)
	got, next, lost = f.ContactsAfter(0, 5)
	if lost != 3 || len(got) != 5 || got[0].Seq != 4 || next != 8 {
		t.Fatalf("after wrapping: first %v next %d lost %d", got[0], next, lost)
	}
	if f.ContactsHead() != 3+contactFeedSize {
		t.Fatalf("head %d", f.ContactsHead())
	}
}
