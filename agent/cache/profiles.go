package cache

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// KindCustomer is the change-feed kind of customer profiles.
const KindCustomer = "Customer"

// Profiles and contact history live in the same store as the
// configuration:
//
//	p/<gen 8><id>        profile index (8 bytes) + profile JSON
//	p/<gen 8><id> 0x00   the customer's contacts, from any agent (history.go)
//	e/<id>               the index at which the customer was erased
//
// Profiles belong to the configuration's generation, so a snapshot (which
// the agent gets when it fell too far behind to know what was erased)
// drops them and their history together; the link prefetches again.
//
// Which profiles the cache keeps from the change feed: those of its region,
// those without a region while KeepUnregioned is set, and those it already
// holds (fetched on demand). A contact is kept for a customer the cache
// holds, and always for the agent's own contacts.
var (
	prefixProfile = []byte("p/")
	// h/<customer> held histories before they moved next to the profile
	// (history.go); Open moves what a store still has there.
	legacyHistoryPrefix = []byte("h/")
	// e/<id> holds the index (8 bytes) at which the customer was erased: a
	// fetch answered before the erasure and arriving after it must not
	// bring the profile back. Kept across snapshots.
	prefixErased = []byte("e/")
)

// Fetched is a profile as the control plane sends it, with its history.
type Fetched struct {
	Profile  protocol.Profile
	Contacts []protocol.ContactEvent
}

func profileKey(gen uint64, id string) []byte {
	return appendProfileKey(make([]byte, 0, len(prefixProfile)+8+len(id)), gen, id)
}

func appendProfileKey(k []byte, gen uint64, id string) []byte {
	k = append(k, prefixProfile...)
	k = binary.BigEndian.AppendUint64(k, gen)
	return append(k, id...)
}

func profileGenPrefix(gen uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte{}, prefixProfile...), gen)
}

func erasedKey(id string) []byte { return append(append([]byte{}, prefixErased...), id...) }

// erasedAt is the index at which id was erased, 0 if never.
func erasedAt(tx *badger.Txn, id string) (uint64, error) {
	it, err := tx.Get(erasedKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var idx uint64
	err = it.Value(func(v []byte) error { idx = storedIndex(v); return nil })
	return idx, err
}

func encodeProfile(p *protocol.Profile) ([]byte, error) {
	if p.Validate() == nil { // the fast encoder takes valid profiles only
		return protocol.AppendProfileJSON(binary.BigEndian.AppendUint64(make([]byte, 0, 8+protocol.ProfileJSONSize(p)), p.Index), p), nil
	}
	var buf bytes.Buffer
	buf.Write(u64(p.Index))
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func storedIndex(v []byte) uint64 {
	if len(v) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// SetRegion sets the region whose profiles the cache keeps from the change
// feed, and whether it keeps those without a region too.
func (c *Cache) SetRegion(region string, unregioned bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.region, c.unregioned = region, unregioned
}

// Region returns what SetRegion set.
func (c *Cache) Region() (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.region, c.unregioned
}

// wants reports whether a profile change of region for id is kept. c.mu is
// held.
func (c *Cache) wants(tx *badger.Txn, region, id string) (bool, error) {
	if region != "" && region == c.region || region == "" && c.unregioned {
		return true, nil
	}
	_, err := tx.Get(profileKey(c.gen, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// applyCustomer applies one Customer change inside ApplyChanges (c.mu held).
func (c *Cache) applyCustomer(tx *badger.Txn, ch api.Change) error {
	key := profileKey(c.gen, ch.ID)
	switch ch.Op {
	case api.OpPut:
		keep, err := c.wants(tx, ch.Region, ch.ID)
		if err != nil || !keep {
			return err
		}
		var p protocol.Profile
		if err := json.Unmarshal(ch.Doc, &p); err != nil {
			return fmt.Errorf("customer %s at index %d: %w", ch.ID, ch.Index, err)
		}
		if p.Index == 0 {
			p.Index = ch.Index
		}
		return setNewer(tx, key, &p)
	case api.OpDerive:
		return c.applyDerive(tx, ch)
	case api.OpDelete:
		if err := tx.Delete(key); err != nil {
			return err
		}
		if err := tx.Set(erasedKey(ch.ID), u64(ch.Index)); err != nil {
			return err
		}
		return tx.Delete(historyKey(c.gen, ch.ID))
	}
	return fmt.Errorf("change at index %d: unknown op %q", ch.Index, ch.Op)
}

// setNewer stores p unless the stored copy is newer (a prefetch may have
// read a later state than the change being applied).
func setNewer(tx *badger.Txn, key []byte, p *protocol.Profile) error {
	if it, err := tx.Get(key); err == nil {
		var idx uint64
		if err := it.Value(func(v []byte) error { idx = storedIndex(v); return nil }); err != nil {
			return err
		}
		if idx > p.Index {
			return nil
		}
	} else if !errors.Is(err, badger.ErrKeyNotFound) {
		return err
	}
	b, err := encodeProfile(p)
	if err != nil {
		return err
	}
	return tx.Set(key, b)
}

// PutProfiles stores fetched or prefetched profiles and their history,
// keeping a stored profile that is newer.
func (c *Cache) PutProfiles(fs []Fetched) error {
	_, err := c.putProfiles(fs)
	return err
}

// PutFetched stores one fetched profile and its history as PutProfiles
// does, and reports whether the cache knows the customer was erased after
// the copy was read: the fetch was answered by a node that had not yet
// applied the erasure, and the copy must not be used.
func (c *Cache) PutFetched(f Fetched) (erased bool, err error) {
	erasedAfter, err := c.putProfiles([]Fetched{f})
	return err == nil && erasedAfter[0], err
}

// putProfiles is PutProfiles; erasedAfter[i] is set for each fs[i] that an
// erasure applied here makes stale.
func (c *Cache) putProfiles(fs []Fetched) (erasedAfter []bool, err error) {
	// Shared with readers, exclusive of ApplyChanges and ApplySnapshot, so
	// nothing writes a profile between the index check and the write;
	// putMu orders concurrent puts.
	c.mu.RLock()
	defer c.mu.RUnlock()
	c.putMu.Lock()
	defer c.putMu.Unlock()
	skip := make([]bool, len(fs))
	erasedAfter = make([]bool, len(fs))
	err = c.view(func(tx *badger.Txn, _ uint64) error {
		for i := range fs {
			if e, err := erasedAt(tx, fs[i].Profile.ID); err != nil {
				return err
			} else if e >= fs[i].Profile.Index && e > 0 {
				skip[i], erasedAfter[i], fs[i].Contacts = true, true, nil // erased after this copy was read
				continue
			}
			it, err := tx.Get(profileKey(c.gen, fs[i].Profile.ID))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if err := it.Value(func(v []byte) error { skip[i] = storedIndex(v) > fs[i].Profile.Index; return nil }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store profiles: %w", err)
	}
	// One timestamp for the whole batch: a profile given twice is stored
	// as its last copy (as when each went in a transaction of its own).
	last := make(map[string]int, len(fs))
	for i := range fs {
		if !skip[i] {
			last[fs[i].Profile.ID] = i
		}
	}
	err = c.batch(c.gen, func(wb *badger.WriteBatch) error {
		for i := range fs {
			if skip[i] || last[fs[i].Profile.ID] != i {
				continue
			}
			b, err := encodeProfile(&fs[i].Profile)
			if err != nil {
				return err
			}
			if err := wb.Set(profileKey(c.gen, fs[i].Profile.ID), b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store profiles: %w", err)
	}
	var contacts []protocol.ContactEvent
	for i := range fs {
		contacts = append(contacts, fs[i].Contacts...)
	}
	c.histMu.Lock()
	defer c.histMu.Unlock()
	if err := c.addHistory(contacts, nil); err != nil {
		return nil, fmt.Errorf("store profiles: %w", err)
	}
	return erasedAfter, nil
}

// Profile returns a cached profile.
func (c *Cache) Profile(id string) (*protocol.Profile, bool, error) {
	var p *protocol.Profile
	err := c.view(func(tx *badger.Txn, gen uint64) error {
		var err error
		p, err = c.readProfile(tx, gen, id, c.readStrings())
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("read profile %s: %w", id, err)
	}
	return p, p != nil, nil
}

// Lookup reads a cached profile and its contact history in one read
// transaction, as a decision needs them: the events since since, at most
// max, oldest first, appended to evs. ok is false when the profile is not
// cached (the history is not read then).
func (c *Cache) Lookup(id string, since time.Time, max int, evs []protocol.ContactEvent) (p *protocol.Profile, out []protocol.ContactEvent, ok bool, err error) {
	out = evs
	err = c.view(func(tx *badger.Txn, gen uint64) error {
		var err error
		strs := c.readStrings()
		if p, err = c.readProfile(tx, gen, id, strs); err != nil || p == nil {
			return err
		}
		out, err = c.readHistoryStrings(tx, gen, id, evs, strs)
		return err
	})
	if err != nil {
		return nil, evs, false, fmt.Errorf("read profile %s: %w", id, err)
	}
	return p, recent(out, len(evs), since, max), p != nil, nil
}

// readProfile reads id's profile of generation gen, nil if not cached.
func (c *Cache) readProfile(tx *badger.Txn, gen uint64, id string, strs *protocol.Strings) (*protocol.Profile, error) {
	it, err := tx.Get(profileKey(gen, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var p *protocol.Profile
	err = it.Value(func(v []byte) error {
		if len(v) < 8 {
			return fmt.Errorf("stored profile %s: %d bytes", id, len(v))
		}
		if q, ok := protocol.DecodeProfileJSONStrings(v[8:], strs); ok {
			p = &q
			return nil
		}
		p = &protocol.Profile{}
		return json.Unmarshal(v[8:], p)
	})
	return p, err
}

// HasProfile reports whether the cache holds id.
func (c *Cache) HasProfile(id string) bool {
	found := false
	_ = c.view(func(tx *badger.Txn, gen uint64) error {
		_, err := tx.Get(profileKey(gen, id))
		found = err == nil
		return nil
	})
	return found
}

// ProfileCount counts the cached profiles (it reads every key).
func (c *Cache) ProfileCount() int {
	n := 0
	_ = c.view(func(tx *badger.Txn, gen uint64) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = profileGenPrefix(gen)
		it := tx.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if !isHistoryKey(it.Item().Key()) {
				n++
			}
		}
		return nil
	})
	return n
}
