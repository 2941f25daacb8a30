package fsm

import (
	"sync"

	"touchpoint.dev/touchpoint/protocol"
)

// contactFeed holds the contact events this node applied most recently, in
// the order it applied them, for the gateway to push to agents (a cap
// reached through one agent then holds on the others). It is not state: it
// lives in this process only, starts empty, and forgets the oldest events
// beyond contactFeedSize. Agents that were away refresh a customer's history
// with the profile (see agent/link).
type contactFeed struct {
	mu     sync.Mutex
	events []protocol.ContactEvent // ring of contactFeedSize
	next   uint64                  // position of the next event published
}

// contactFeedSize bounds the feed: over a second of events at 25,000 a
// second, while the gateway reads it within milliseconds of each apply.
const contactFeedSize = 1 << 15

func (c *contactFeed) publish(entries ...[]protocol.ContactEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.events == nil {
		c.events = make([]protocol.ContactEvent, contactFeedSize)
	}
	for _, evs := range entries {
		for i := range evs {
			c.events[c.next%contactFeedSize] = evs[i]
			c.next++
		}
	}
}

// ContactsAfter returns up to limit events applied at or after position
// pos, and the position after them. Events older than the feed holds are
// skipped (lost reports how many).
func (f *FSM) ContactsAfter(pos uint64, limit int) (evs []protocol.ContactEvent, next uint64, lost uint64) {
	c := &f.contacts
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.next > contactFeedSize && pos < c.next-contactFeedSize {
		lost = c.next - contactFeedSize - pos
		pos = c.next - contactFeedSize
	}
	if pos > c.next {
		pos = c.next // a position from before a restart
	}
	n := min(c.next-pos, uint64(limit))
	evs = make([]protocol.ContactEvent, n)
	for i := range evs {
		evs[i] = c.events[(pos+uint64(i))%contactFeedSize]
	}
	return evs, pos + n, lost
}

// ContactsHead is the position after the newest event in the feed.
func (f *FSM) ContactsHead() uint64 {
	f.contacts.mu.Lock()
	defer f.contacts.mu.Unlock()
	return f.contacts.next
}
