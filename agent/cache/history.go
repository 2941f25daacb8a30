package cache

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"touchpoint.dev/touchpoint/protocol"
)

// Contact history: per customer, protocol's event list
// (protocol.AppendEventList) in the customer's profile record, or at
//
//	h/<customer>
//
// while the profile is not cached (record.go); oldest first, each (agent,
// sequence) once, at most MaxHistory contacts and none older than
// HistoryWindow before the newest. A decision reads it with the profile's
// Get (a prefix iteration costs ten times more in badger); writes read,
// merge and rewrite it under histMu.
const (
	MaxHistory    = 256
	HistoryWindow = 366 * 24 * time.Hour
)

func historyKey(customer string) []byte {
	return append(append([]byte{}, prefixHistory...), customer...)
}

// historyEvent is what a history keeps of an event: what decisions count
// (time, channel, type, outcome, offer, campaign) and the agent and
// sequence that make it unique. The customer is the key's; the decision
// id, site and value are the ledger's business, and left out they make a
// history shorter to store and to decode on every decision.
func historyEvent(e protocol.ContactEvent) protocol.ContactEvent {
	e.CustomerID, e.DecisionID, e.Site, e.Value = "", "", "", 0
	return e
}

// merger holds the memory history merges reuse: they run one at a time
// (histMu), hundreds a second under load, and each would otherwise
// allocate its history three times over.
type merger struct {
	have, out []protocol.ContactEvent
	seen      map[historyID]bool
	buf       []byte // the encoded histories of one addHistory
}

// maxMergeBuffer bounds the encoding buffer a merger keeps.
const maxMergeBuffer = 1 << 20

type historyID struct {
	agent string
	seq   uint64
}

// keep appends e to out unless its (agent, sequence) is there already.
func (m *merger) keep(out []protocol.ContactEvent, e *protocol.ContactEvent) ([]protocol.ContactEvent, bool) {
	k := historyID{e.AgentID, e.Seq}
	if m.seen[k] {
		return out, false
	}
	m.seen[k] = true
	return append(out, historyEvent(*e)), true
}

// merge adds evs to have (both any order), dropping repeats of an
// (agent, sequence) and what a history does not keep (historyEvent), and
// keeps the newest MaxHistory within HistoryWindow of the newest, oldest
// first. added reports whether evs held an event have did not. out is
// m's memory, valid until the next merge.
func (m *merger) merge(have, evs []protocol.ContactEvent) (out []protocol.ContactEvent, added bool) {
	if m.seen == nil {
		m.seen = make(map[historyID]bool, len(have)+len(evs))
	}
	clear(m.seen)
	out = slices.Grow(m.out[:0], len(have)+len(evs))
	for i := range have {
		out, _ = m.keep(out, &have[i])
	}
	for i := range evs {
		var kept bool
		out, kept = m.keep(out, &evs[i])
		added = added || kept
	}
	m.out = out
	slices.SortStableFunc(out, func(a, b protocol.ContactEvent) int { return a.Time.Compare(b.Time) })
	if len(out) > MaxHistory {
		out = out[len(out)-MaxHistory:]
	}
	if len(out) > 0 {
		floor := out[len(out)-1].Time.Add(-HistoryWindow)
		i := 0
		for i < len(out) && out[i].Time.Before(floor) {
			i++
		}
		out = out[i:]
	}
	return out, added
}

// writeCustomers writes customers' records and histories (c.mu held
// shared, histMu held): puts are new profiles to store (each carrying its
// customer's history over), evs contacts to merge into their customers'
// histories — in the record of a cached customer, at h/<id> otherwise
// (record.go). With heldOnly, contacts are kept only for customers
// cached or being put. Contacts already merged (c.recorded) are dropped
// without reading their history, and a history the merge leaves as it was
// is not written back: a contact the control plane pushes back to the
// agent that logged it costs nothing. Everything goes in one batch.
func (c *Cache) writeCustomers(puts map[string]*protocol.Profile, evs []protocol.ContactEvent, heldOnly bool) error {
	by := map[string][]protocol.ContactEvent{}
	for _, e := range evs {
		if !c.recorded.has(e) {
			by[e.CustomerID] = append(by[e.CustomerID], e)
		}
	}
	if len(by) == 0 && len(puts) == 0 {
		return nil
	}
	type write struct {
		value  []byte // a record, or h/<id>'s event list when !record
		record bool
		dropH  bool // delete h/<id>: the record took its history in
	}
	writes := make(map[string]write, len(by)+len(puts))
	c.merger.buf = c.merger.buf[:0]
	gen := c.gen
	consider := func(tx *badger.Txn, customer string) error {
		p, add := puts[customer], by[customer]
		var cur record // the stored record, what this write needs of it copied
		found, err := readRecord(tx, gen, customer, func(r record) error {
			cur = record{index: r.index, inline: r.inline}
			if r.inline {
				cur.history = bytes.Clone(r.history)
			}
			if p == nil { // the record's profile stays
				cur.json = bytes.Clone(r.json)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !found && p == nil && heldOnly {
			delete(by, customer)
			return nil
		}
		inH := false // the history is at h/<id>
		if !cur.inline {
			it, err := tx.Get(historyKey(customer))
			switch {
			case errors.Is(err, badger.ErrKeyNotFound):
			case err != nil:
				return err
			default:
				if cur.history, err = it.ValueCopy(nil); err != nil {
					return err
				}
				inH = true
			}
		}
		hist, added := cur.history, false
		if len(add) > 0 {
			var out []protocol.ContactEvent
			if out, added, err = c.mergeInto(customer, cur.history, add); err != nil {
				return err
			}
			if added {
				// One buffer for the batch: each value stays valid (a
				// growth copies, the old array lives on) until the batch
				// is written, and is reused by the next call.
				from := len(c.merger.buf)
				c.merger.buf = protocol.AppendEventList(c.merger.buf, out)
				hist = c.merger.buf[from:len(c.merger.buf):len(c.merger.buf)]
			}
		}
		switch {
		case p != nil:
			b, err := encodeRecord(p, hist)
			if err != nil {
				return err
			}
			writes[customer] = write{value: b, record: true, dropH: inH}
		case found && (added || inH): // a record of the first format takes its history in
			writes[customer] = write{value: appendRecord(nil, cur.index, cur.json, hist), record: true, dropH: inH}
		case !found && added:
			writes[customer] = write{value: hist}
		}
		return nil
	}
	err := c.view(func(tx *badger.Txn, _ uint64) error {
		for customer := range puts {
			if err := consider(tx, customer); err != nil {
				return err
			}
		}
		for customer := range by {
			if puts[customer] == nil {
				if err := consider(tx, customer); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if cap(c.merger.buf) > maxMergeBuffer {
		defer func() { c.merger.buf = nil }() // after the write: a prefetch's page, not kept
	}
	if len(writes) > 0 {
		err = c.batch(gen, func(wb *badger.WriteBatch) error {
			for customer, w := range writes {
				key := historyKey(customer)
				if w.record {
					key = profileKey(gen, customer)
				}
				if err := wb.Set(key, w.value); err != nil {
					return err
				}
				if w.dropH {
					if err := wb.Delete(historyKey(customer)); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, add := range by {
		for _, e := range add {
			c.recorded.add(e)
		}
	}
	return nil
}

// mergeInto decodes the encoded history have (through the merges' own
// string table: decisions' reads do not share its lock with this writer)
// and merges add into it; out is the merger's memory, valid until the
// next merge.
func (c *Cache) mergeInto(customer string, have []byte, add []protocol.ContactEvent) (out []protocol.ContactEvent, added bool, err error) {
	c.merger.have = c.merger.have[:0]
	if len(have) > 0 {
		if c.merger.have, err = protocol.DecodeEventListInto(c.merger.have, have, c.histStrs); err != nil {
			return nil, false, fmt.Errorf("contact history of %s: %w", customer, err)
		}
	}
	out, added = c.merger.merge(c.merger.have, add)
	return out, added, nil
}

// AddContacts records contacts in the history: all of them when own is
// set (the agent's own, recorded as it accepts them, so its caps are exact
// before the control plane acknowledges them), otherwise only those of
// customers the cache holds (what other agents recorded, pushed by the
// control plane). The same event from two sources is stored once.
func (c *Cache) AddContacts(evs []protocol.ContactEvent, own bool) error {
	if len(evs) == 0 {
		return nil
	}
	// Shared through the write: an erasure (ApplyChanges, exclusive) must
	// not fall between reading a history and writing it back.
	c.mu.RLock()
	defer c.mu.RUnlock()
	c.histMu.Lock()
	defer c.histMu.Unlock()
	if err := c.writeCustomers(nil, evs, !own); err != nil {
		return fmt.Errorf("record contacts: %w", err)
	}
	return nil
}

// Contacts returns a customer's contacts at or after since, oldest first,
// at most max (the newest max when there are more).
func (c *Cache) Contacts(customer string, since time.Time, max int) ([]protocol.ContactEvent, error) {
	var out []protocol.ContactEvent
	err := c.view(func(tx *badger.Txn, gen uint64) error {
		_, err := c.readCustomer(tx, gen, customer, c.readStrings(), false, &out)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read contacts of %s: %w", customer, err)
	}
	return recent(out, 0, since, max), nil
}

// recent keeps, of evs[from:] (oldest first), the events since since, at
// most max of the newest; evs[:from] stays as it is.
func recent(evs []protocol.ContactEvent, from int, since time.Time, max int) []protocol.ContactEvent {
	i := from
	for i < len(evs) && evs[i].Time.Before(since) {
		i++
	}
	if n := len(evs) - i; n > max {
		i += n - max
	}
	if i == from {
		return evs
	}
	return append(evs[:from], evs[i:]...)
}

// decodeHistory appends an encoded history of customer to evs.
func decodeHistory(customer string, b []byte, evs []protocol.ContactEvent, strs *protocol.Strings) ([]protocol.ContactEvent, error) {
	if len(b) == 0 {
		return evs, nil
	}
	out, err := protocol.DecodeEventListInto(evs, b, strs)
	if err != nil {
		return evs, fmt.Errorf("contact history of %s: %w", customer, err)
	}
	for i := len(evs); i < len(out); i++ {
		out[i].CustomerID = customer // histories written before historyEvent carry it too
	}
	return out, nil
}

// recorded remembers the last recordedMax contacts merged into histories
// by customer, agent and sequence — what a merge tells apart — so a
// contact found there would leave its history as it is (histMu guards
// it). Whatever drops a history other than a merge (an erasure, a
// snapshot) clears it.
type recorded struct {
	set  map[recordedKey]struct{}
	ring []recordedKey
	next int
}

type recordedKey struct {
	customer, agent string
	seq             uint64
}

const recordedMax = 1 << 15

func (r *recorded) has(e protocol.ContactEvent) bool {
	_, ok := r.set[recordedKey{e.CustomerID, e.AgentID, e.Seq}]
	return ok
}

func (r *recorded) add(e protocol.ContactEvent) {
	k := recordedKey{e.CustomerID, e.AgentID, e.Seq}
	if _, ok := r.set[k]; ok {
		return
	}
	if r.set == nil {
		r.set = make(map[recordedKey]struct{}, recordedMax)
		r.ring = make([]recordedKey, recordedMax)
	}
	if len(r.set) == recordedMax { // full: forget the oldest
		delete(r.set, r.ring[r.next])
	}
	r.ring[r.next] = k
	r.next = (r.next + 1) % recordedMax
	r.set[k] = struct{}{}
}

func (r *recorded) clear() { *r = recorded{} }
