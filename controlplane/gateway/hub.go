package gateway

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"time"

	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// hub turns the change feed into frames once for every session. It wakes
// on each apply, and when the feed's head moved it reads the new changes
// once, encodes one frame, and wakes the sessions; a session whose index is
// the frame's start writes those bytes as they are, the others read the
// feed themselves (a node never sends an agent changes it holds).
type hub struct {
	state State
	page  int
	log   *slog.Logger
	// sessions counts the node's agent sessions: with none, nothing is
	// read or encoded (a session that starts reads the feed itself).
	sessions func() int

	mu     sync.Mutex
	to     uint64 // the feed position the newest frame reaches
	last   *frame
	notify chan struct{}
	// The same for the contact feed: contactsTo is the position the newest
	// Contacts frame reaches.
	contactsTo   uint64
	lastContacts *frame
	// The offer volumes (the presentations of offers with a volumeCap):
	// lastVolumes is the newest frame, its to a count of frames (1, 2…);
	// volumesAt are the contacts head and change index it was read at,
	// volumes what it says.
	lastVolumes          *frame
	volumesAt, volumesCh uint64
	volumes              map[string]int64
}

// frame is an encoded Changes or Snapshot frame covering (from, to].
type frame struct {
	from, to uint64
	frame    []byte
}

func newHub(state State, page int, log *slog.Logger, sessions func() int) *hub {
	return &hub{state: state, page: page, log: log, sessions: sessions, notify: make(chan struct{})}
}

func (h *hub) latest() *frame {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

func (h *hub) latestContacts() *frame {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastContacts
}

func (h *hub) latestVolumes() *frame {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastVolumes
}

// wait returns a channel closed when the next frame is ready.
func (h *hub) wait() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.notify
}

func (h *hub) run(ctx context.Context) {
	h.mu.Lock()
	h.to = h.state.Applied()
	h.contactsTo = h.state.ContactsHead()
	h.mu.Unlock()
	var lastContacts time.Time
	for {
		ch := h.state.Changed()
		var later <-chan time.Time
		if h.sessions() == 0 {
			// Nobody to push to (a node during a bulk import, say): skip
			// what was applied. Sessions starting later catch up from the
			// feed, and see only contacts from their start.
			h.mu.Lock()
			h.to, h.contactsTo = max(h.to, h.state.LastChange()), h.state.ContactsHead()
			// A session that registered since the count reads the feed
			// itself once woken.
			close(h.notify)
			h.notify = make(chan struct{})
			h.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-ch:
			}
			continue
		}
		for h.state.ContactsHead() > h.contactsTo {
			// Contacts go out at most every contactsEvery: at tens of
			// thousands of events a second, one frame per commit to every
			// session would cost more than the events themselves.
			if wait := contactsEvery - time.Since(lastContacts); wait > 0 {
				later = time.After(wait)
				break
			}
			if err := h.advanceContacts(); err != nil {
				h.log.Warn("encode contacts", "error", err)
				break
			}
			lastContacts = time.Now()
		}
		if h.volumesAt != h.contactsTo || h.volumesCh != h.state.LastChange() {
			// Contacts alone can change the volumes (a catalogue change
			// can change which offers have a cap).
			if err := h.advanceVolumes(nil); err != nil {
				h.log.Warn("read offer volumes", "error", err)
			}
		}
		if h.state.LastChange() > h.to {
			if err := h.advance(); err != nil {
				h.log.Warn("read change feed", "error", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(100 * time.Millisecond):
				}
				continue
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
		case <-later:
		}
	}
}

// contactsEvery spaces Contacts frames.
const contactsEvery = 10 * time.Millisecond

func (h *hub) advance() error {
	feed, err := h.state.Changes(h.to, h.page)
	if err != nil {
		return err
	}
	if !feed.Snapshot && feed.Index <= h.to {
		return nil
	}
	b, err := encodeFeed(feed)
	if err != nil {
		return err
	}
	from := h.to
	if feed.Snapshot {
		from = 0 // a snapshot serves every session behind it
	}
	h.mu.Lock()
	h.last = &frame{from: from, to: feed.Index, frame: b}
	h.to = feed.Index
	close(h.notify)
	h.notify = make(chan struct{})
	h.mu.Unlock()
	return nil
}

// advanceContacts encodes the contacts applied since the last frame, and
// the offer volumes read after them, and publishes both at once: a
// session that sends the contacts frame sends a volumes frame read after
// it (or a later one), so an agent that saw its own presentation come back
// in the contact feed knows the next volumes frame counts it.
func (h *hub) advanceContacts() error {
	evs, next, _ := h.state.ContactsAfter(h.contactsTo, contactsPage)
	b, err := encodeContacts(evs)
	if err != nil {
		return err
	}
	contacts := &frame{from: h.contactsTo, to: next, frame: b}
	h.contactsTo = next
	if err := h.advanceVolumes(contacts); err != nil {
		h.log.Warn("read offer volumes", "error", err)
		h.mu.Lock()
		h.lastContacts = contacts
		h.wakeLocked()
		h.mu.Unlock()
	}
	return nil
}

// wakeLocked (mu held) wakes every session.
func (h *hub) wakeLocked() {
	close(h.notify)
	h.notify = make(chan struct{})
}

// advanceVolumes reads the offer volumes (the presentations of the offers
// with a volumeCap) and makes a new frame when they changed; with contacts
// it publishes that contacts frame in the same step. Offers without a cap
// are not sent (an empty map when none has one, once an earlier frame had
// some: the agent then forgets them).
func (h *hub) advanceVolumes(contacts *frame) error {
	head, ch := h.contactsTo, h.state.LastChange()
	v, err := h.state.OfferVolumes()
	if err != nil {
		return err
	}
	h.volumesAt, h.volumesCh = head, ch
	var vf *frame
	if !maps.Equal(v, h.volumes) || (h.lastVolumes == nil && len(v) > 0) {
		if v == nil {
			v = map[string]int64{}
		}
		var w frameBuffer
		if err := wire.WriteFrame(&w, wire.MsgOfferVolumes, wire.OfferVolumes{Volumes: v}); err != nil {
			return err
		}
		vf = &frame{to: 1, frame: w.b}
	}
	if contacts == nil && vf == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if contacts != nil {
		h.lastContacts = contacts
	}
	if vf != nil {
		if h.lastVolumes != nil {
			vf.to = h.lastVolumes.to + 1
		}
		h.lastVolumes, h.volumes = vf, v
	}
	h.wakeLocked()
	return nil
}

// encodeFeed frames a feed page as Changes or Snapshot.
func encodeFeed(feed api.ChangeFeed) ([]byte, error) {
	var w frameBuffer
	var err error
	if feed.Snapshot {
		err = wire.WriteFrame(&w, wire.MsgSnapshot, wire.Snapshot{ClusterID: feed.ClusterID, Epoch: feed.Epoch, Index: feed.Index, Objects: feed.Objects})
	} else {
		changes := feed.Changes
		if changes == nil {
			changes = []api.Change{}
		}
		err = wire.WriteFrame(&w, wire.MsgChanges, wire.Changes{ClusterID: feed.ClusterID, Epoch: feed.Epoch, Index: feed.Index, Changes: changes})
	}
	return w.b, err
}

type frameBuffer struct{ b []byte }

func (f *frameBuffer) Write(p []byte) (int, error) {
	f.b = append(f.b, p...)
	return len(p), nil
}
