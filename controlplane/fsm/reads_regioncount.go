package fsm

import (
	badger "github.com/dgraph-io/badger/v4"
)

// CountRegion counts region's customers ("" for those without one), reading
// keys only and stopping at max (0: no bound): agents ask whether a region
// is small enough to prefetch whole.
func (f *FSM) CountRegion(region string, max int) (int, error) {
	n := 0
	err := f.view(func(tx *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = regionPrefix(region)
		it := tx.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid() && (max <= 0 || n < max); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}
