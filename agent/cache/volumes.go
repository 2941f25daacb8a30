package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	badger "github.com/dgraph-io/badger/v4"
)

// keyVolumes holds the offer volumes the agent last knew (JSON: offer id
// → presentations across the fleet), so that an agent restarted while cut
// off from the control plane still reaches the volume caps it had reached.
var keyVolumes = []byte("m/volumes")

// SaveVolumes stores the offer volumes the agent knows now; it writes only
// when they changed since the last save.
func (c *Cache) SaveVolumes(m map[string]int64) error {
	c.volMu.Lock()
	defer c.volMu.Unlock()
	if c.volSaved != nil && maps.Equal(c.volSaved, m) {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := c.update(c.read.Load().gen, func(tx *badger.Txn) error { return tx.Set(keyVolumes, b) }); err != nil {
		return fmt.Errorf("save offer volumes: %w", err)
	}
	c.volSaved = maps.Clone(m)
	return nil
}

// Volumes returns the offer volumes saved last; ok is false when none
// were.
func (c *Cache) Volumes() (m map[string]int64, ok bool, err error) {
	err = c.view(func(tx *badger.Txn, _ uint64) error {
		item, err := tx.Get(keyVolumes)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		ok = true
		return item.Value(func(v []byte) error { return json.Unmarshal(v, &m) })
	})
	if err != nil {
		return nil, false, fmt.Errorf("read offer volumes: %w", err)
	}
	return m, ok, nil
}
