package cache

import (
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// applyDerive applies a Customer change of op derive inside ApplyChanges
// (c.mu held): what a control-plane job computed for the customer (a
// protocol.DerivedUpdate), to the profile the cache holds. A customer the
// cache does not hold is not fetched for it; a held copy read at or after
// the change's index already has it.
func (c *Cache) applyDerive(tx *badger.Txn, ch api.Change) error {
	p, err := c.readProfile(tx, c.gen, ch.ID, nil)
	if err != nil || p == nil || p.Index >= ch.Index {
		return err
	}
	u, err := protocol.DecodeDerivedUpdate(ch.Doc)
	if err != nil {
		return fmt.Errorf("customer %s at index %d: %w", ch.ID, ch.Index, err)
	}
	u.ApplyTo(p)
	p.Index = ch.Index
	b, err := encodeProfile(p)
	if err != nil {
		return err
	}
	return tx.Set(profileKey(c.gen, ch.ID), b)
}
