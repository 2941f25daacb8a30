package fsm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// decodeProfile decodes a stored profile value (index, then JSON): with
// protocol's fast decoder, which takes what the FSM writes, else
// encoding/json.
func decodeProfile(id string, v []byte) (protocol.Profile, error) {
	_, doc, err := decodeObject(v)
	if err != nil {
		return protocol.Profile{}, fmt.Errorf("stored profile %s: %w", id, err)
	}
	if p, ok := protocol.DecodeProfileJSON(doc); ok {
		return p, nil
	}
	var p protocol.Profile
	if err := json.Unmarshal(doc, &p); err != nil {
		return p, fmt.Errorf("stored profile %s: %w", id, err)
	}
	return p, nil
}

// readDerived overlays the customer's stored d/ value, if any, on p.
func readDerived(tx *badger.Txn, p *protocol.Profile) error {
	it, err := tx.Get(derivedKey(p.ID))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return it.Value(func(v []byte) error { return overlayDerived(p, v) })
}

// Customer returns one customer's profile, or an *api.Error with code
// not_found.
func (f *FSM) Customer(id string) (*protocol.Profile, error) {
	var p protocol.Profile
	found := false
	err := f.view(func(tx *badger.Txn) error {
		it, err := tx.Get(profileKey(id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		if err := it.Value(func(v []byte) error {
			var err error
			p, err = decodeProfile(id, v)
			return err
		}); err != nil {
			return err
		}
		return readDerived(tx, &p)
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, api.Errorf(api.CodeNotFound, "customer %q does not exist", id)
	}
	return &p, nil
}

// CustomersInRegion returns up to limit profiles of region ("" for the
// customers without one) with ids after afterID, in id order, and the id to
// pass as afterID for the next page ("" after the last).
func (f *FSM) CustomersInRegion(region, afterID string, limit int) ([]protocol.Profile, string, error) {
	if limit <= 0 {
		limit = 1000
	}
	out := []protocol.Profile{}
	next := ""
	prefix := regionPrefix(region)
	err := f.view(func(tx *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = prefix
		it := tx.NewIterator(opts)
		defer it.Close()
		start := prefix
		if afterID != "" {
			// The first id after afterID: afterID followed by a zero byte.
			start = append(append(bytes.Clone(prefix), afterID...), 0)
		}
		for it.Seek(start); it.Valid(); it.Next() {
			id := string(it.Item().Key()[len(prefix):])
			if len(out) == limit {
				next = out[len(out)-1].ID
				break
			}
			item, err := tx.Get(profileKey(id))
			if err != nil {
				return fmt.Errorf("profile %s of region %q: %w", id, region, err)
			}
			var p protocol.Profile
			if err := item.Value(func(v []byte) error {
				var err error
				p, err = decodeProfile(id, v)
				return err
			}); err != nil {
				return err
			}
			if err := readDerived(tx, &p); err != nil {
				return err
			}
			out = append(out, p)
		}
		return nil
	})
	return out, next, err
}

// CustomerCounts returns how many customers the state holds, in total and
// per region ("" for those without one). It reads every region key.
func (f *FSM) CustomerCounts() (int, map[string]int, error) {
	total := 0
	by := map[string]int{}
	err := f.view(func(tx *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = prefixRegion
		it := tx.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()[len(prefixRegion):]
			region, _, _ := bytes.Cut(k, []byte{'/'})
			by[string(region)]++
			total++
		}
		return nil
	})
	return total, by, err
}

// RecentContacts returns a customer's newest contacts first, at most limit
// (0: 20).
func (f *FSM) RecentContacts(customer string, limit int) ([]protocol.ContactEvent, error) {
	if limit <= 0 {
		limit = 20
	}
	out := []protocol.ContactEvent{}
	prefix := customerPrefix(customer)
	err := f.view(func(tx *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		opts.Reverse = true
		it := tx.NewIterator(opts)
		defer it.Close()
		for it.Seek(append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, 9)...)); it.Valid() && len(out) < limit; it.Next() {
			ev, ok, err := customerEntry(tx, it.Item(), len(prefix))
			if err != nil {
				return err
			}
			if ok {
				out = append(out, ev)
			}
		}
		return nil
	})
	return out, err
}
