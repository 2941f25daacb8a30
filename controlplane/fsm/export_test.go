package fsm

import (
	"encoding/binary"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// PruneEvery exposes how often Apply prunes the change feed and request ids,
// so the external tests can apply just enough entries to cross it.
const PruneEvery = pruneEvery

// SeedChanges writes n change-feed records at index idx straight into the
// database, as a long run of bulk applies leaves them, without the cost of
// applying that many documents. The records hold an empty change: the tests
// that seed them never read them back.
func (f *FSM) SeedChanges(idx uint64, n int) error {
	wb := f.db.NewWriteBatch()
	defer wb.Cancel()
	v := []byte(`{}`)
	for i := range n {
		if err := wb.Set(seqKey(prefixChange, idx, uint32(i)), v); err != nil {
			return err
		}
	}
	return wb.Flush()
}

// OldestChange returns the key of the oldest change-feed record stored,
// including one below the floor that Changes no longer returns.
func (f *FSM) OldestChange() (index uint64, seq uint32, ok bool, err error) {
	err = f.view(func(tx *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = prefixChange
		it := tx.NewIterator(opts)
		defer it.Close()
		it.Rewind()
		if !it.Valid() {
			return nil
		}
		k := it.Item().Key()
		if len(k) != len(prefixChange)+12 {
			return fmt.Errorf("change key %q", k)
		}
		index, seq, ok = u64From(k[len(prefixChange):]), binary.BigEndian.Uint32(k[len(prefixChange)+8:]), true
		return nil
	})
	return index, seq, ok, err
}

// AppendJSONString exposes the hand-written JSON string encoder.
var AppendJSONString = appendJSONString

// SetMaxEraseEvents lowers the ledger events one erase entry moves, so that
// tests can erase in several entries without 20,000 events; the returned
// function puts the limit back.
func SetMaxEraseEvents(n int) (restore func()) {
	old := maxEraseEvents
	maxEraseEvents = n
	return func() { maxEraseEvents = old }
}

// EachKey calls fn with every key and value stored.
func (f *FSM) EachKey(fn func(k, v []byte)) error {
	return f.view(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			if err := item.Value(func(v []byte) error { fn(item.Key(), v); return nil }); err != nil {
				return err
			}
		}
		return nil
	})
}
