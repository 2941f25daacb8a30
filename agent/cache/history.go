package cache

import (
	"errors"
	"fmt"
	"slices"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"touchpoint.dev/touchpoint/protocol"
)

// Contact history: one key per customer, right after the customer's
// profile key,
//
//	p/<gen 8><customer> 0x00   protocol's event list (protocol.AppendEventList)
//
// oldest first, each (agent, sequence) once, at most MaxHistory contacts
// and none older than HistoryWindow before the newest. A decision reads it
// with one Get (a prefix iteration costs ten times more in badger); writes
// read, merge and rewrite it under histMu.
//
// Next to the profile, the history is almost always in the profile's
// block: the decision's second read walks the table index and the block
// the first one just brought into the processor's caches, instead of a
// second random walk through memory. In paired runs over a million
// profiles that cut a decision by 4-8 us at p50 and 9-16 us at p99
// (docs/PERFORMANCE.md). The 0 byte, which no customer id holds, keeps
// the key apart from every profile's. Stores written before kept
// histories at h/<customer>; Open moves them (migrateHistories).
//
// A history is thus of the generation too: a snapshot drops the
// profiles and their histories together (dropStale).
const (
	MaxHistory    = 256
	HistoryWindow = 366 * 24 * time.Hour
)

func historyKey(gen uint64, customer string) []byte {
	return append(appendProfileKey(make([]byte, 0, len(prefixProfile)+8+len(customer)+1), gen, customer), 0)
}

// isHistoryKey tells a history key from a profile key under p/.
func isHistoryKey(k []byte) bool { return len(k) > 0 && k[len(k)-1] == 0 }

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

// addHistory merges contacts into their customers' histories (c.mu held
// shared, histMu held). held, when not nil, says which customers to keep
// contacts for. Contacts already merged (c.recorded) are dropped without
// reading their history, and a history the merge leaves as it was is not
// written back: a contact the control plane pushes back to the agent
// that logged it costs nothing.
func (c *Cache) addHistory(evs []protocol.ContactEvent, held func(tx *badger.Txn, customer string) bool) error {
	by := map[string][]protocol.ContactEvent{}
	for _, e := range evs {
		if !c.recorded.has(e) {
			by[e.CustomerID] = append(by[e.CustomerID], e)
		}
	}
	if len(by) == 0 {
		return nil
	}
	merged := make(map[string][]byte, len(by))
	c.merger.buf = c.merger.buf[:0]
	err := c.view(func(tx *badger.Txn, _ uint64) error {
		for customer, add := range by {
			if held != nil && !held(tx, customer) {
				delete(by, customer)
				continue
			}
			// The merge's own string table: decisions' reads do not
			// share its lock with this writer.
			have, err := c.readHistoryStrings(tx, c.gen, customer, c.merger.have[:0], c.histStrs)
			c.merger.have = have
			if err != nil {
				return err
			}
			if out, added := c.merger.merge(have, add); added {
				// One buffer for the batch: each value stays valid
				// (a growth copies, the old array lives on) until the
				// batch is written, and is reused by the next call.
				from := len(c.merger.buf)
				c.merger.buf = protocol.AppendEventList(c.merger.buf, out)
				merged[customer] = c.merger.buf[from:len(c.merger.buf):len(c.merger.buf)]
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
	if len(merged) > 0 {
		err = c.batch(c.gen, func(wb *badger.WriteBatch) error {
			for customer, v := range merged {
				if err := wb.Set(historyKey(c.gen, customer), v); err != nil {
					return err
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
	gen := c.gen
	c.histMu.Lock()
	defer c.histMu.Unlock()
	var held func(*badger.Txn, string) bool
	if !own {
		held = func(tx *badger.Txn, customer string) bool {
			_, err := tx.Get(profileKey(gen, customer))
			return err == nil
		}
	}
	if err := c.addHistory(evs, held); err != nil {
		return fmt.Errorf("record contacts: %w", err)
	}
	return nil
}

// Contacts returns a customer's contacts at or after since, oldest first,
// at most max (the newest max when there are more).
func (c *Cache) Contacts(customer string, since time.Time, max int) ([]protocol.ContactEvent, error) {
	var out []protocol.ContactEvent
	err := c.view(func(tx *badger.Txn, gen uint64) error {
		var err error
		out, err = c.readHistory(tx, gen, customer, nil)
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

// readHistory appends customer's stored history to evs, through the
// cache's string table.
func (c *Cache) readHistory(tx *badger.Txn, gen uint64, customer string, evs []protocol.ContactEvent) ([]protocol.ContactEvent, error) {
	return c.readHistoryStrings(tx, gen, customer, evs, c.readStrings())
}

func (c *Cache) readHistoryStrings(tx *badger.Txn, gen uint64, customer string, evs []protocol.ContactEvent, strs *protocol.Strings) ([]protocol.ContactEvent, error) {
	it, err := tx.Get(historyKey(gen, customer))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return evs, nil
	}
	if err != nil {
		return evs, err
	}
	out := evs
	err = it.Value(func(v []byte) error {
		var err error
		if out, err = protocol.DecodeEventListInto(evs, v, strs); err != nil {
			return fmt.Errorf("contact history: %w", err)
		}
		return nil
	})
	for i := len(evs); i < len(out); i++ {
		out[i].CustomerID = customer // histories written before historyEvent carry it too
	}
	return out, err
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

// migrateHistories moves the histories a store written before they sat
// next to their profiles (h/<customer>) into the current generation, in
// transactions that each write a few and delete their old keys: a crash
// leaves every history in one place or both, and the next Open moves what
// is left (the same value again where it was in both). It runs in Open,
// before anything else reads or writes.
func (c *Cache) migrateHistories() (int, error) {
	moved := 0
	// Each transaction well inside badger's limits for this memtable size.
	maxSize, maxCount := c.db.MaxBatchSize()/4, c.db.MaxBatchCount()/4
	// Each pass goes on after the last key moved: seeking from the start
	// would step over every deletion before it, quadratic in the store.
	from := legacyHistoryPrefix
	for {
		var keys, vals [][]byte
		err := c.view(func(tx *badger.Txn, _ uint64) error {
			opts := badger.DefaultIteratorOptions
			opts.Prefix = legacyHistoryPrefix
			it := tx.NewIterator(opts)
			defer it.Close()
			size := 0
			for it.Seek(from); it.Valid() && int64(size) < maxSize && int64(len(keys)) < maxCount; it.Next() {
				v, err := it.Item().ValueCopy(nil)
				if err != nil {
					return err
				}
				keys, vals = append(keys, it.Item().KeyCopy(nil)), append(vals, v)
				size += len(v) + 2*len(keys[len(keys)-1]) + 16
			}
			return nil
		})
		if err != nil || len(keys) == 0 {
			return moved, err
		}
		err = c.update(c.gen, func(tx *badger.Txn) error {
			for i, k := range keys {
				if err := tx.Set(historyKey(c.gen, string(k[len(legacyHistoryPrefix):])), vals[i]); err != nil {
					return err
				}
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return moved, err
		}
		moved += len(keys)
		from = append(keys[len(keys)-1], 0) // the next key after it
	}
}
