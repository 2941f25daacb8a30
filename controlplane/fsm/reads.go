package fsm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"touchpoint.dev/touchpoint/protocol/api"
)

func getJSON(tx *badger.Txn, key []byte, v any) (bool, error) {
	it, err := tx.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, it.Value(func(b []byte) error { return json.Unmarshal(b, v) })
}

func scan(tx *badger.Txn, prefix []byte, fn func(k, v []byte) (bool, error)) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = prefix
	it := tx.NewIterator(opts)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		var more bool
		err := item.Value(func(v []byte) error {
			var err error
			more, err = fn(item.Key(), v)
			return err
		})
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
	return nil
}

func toObject(kind, id string, v []byte) (api.Object, error) {
	idx, doc, err := decodeObject(v)
	if err != nil {
		return api.Object{}, fmt.Errorf("decode %s/%s: %w", kind, id, err)
	}
	return api.Object{Kind: kind, ID: id, Index: idx, Doc: bytes.Clone(doc)}, nil
}

// Get returns one catalogue object.
func (f *FSM) Get(kind, id string) (api.Object, bool, error) {
	var o api.Object
	var found bool
	err := f.view(func(tx *badger.Txn) error {
		it, err := tx.Get(catalogKey(kind, id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return it.Value(func(v []byte) error {
			var err error
			o, err = toObject(kind, id, v)
			return err
		})
	})
	return o, found, err
}

// List returns every object of a kind, ordered by id.
func (f *FSM) List(kind string) ([]api.Object, error) {
	out := []api.Object{}
	prefix := catalogKindPrefix(kind)
	err := f.view(func(tx *badger.Txn) error {
		return scan(tx, prefix, func(k, v []byte) (bool, error) {
			o, err := toObject(kind, string(k[len(prefix):]), v)
			out = append(out, o)
			return true, err
		})
	})
	return out, err
}

// Cluster returns the cluster's identity ("" before init).
func (f *FSM) Cluster() (ClusterInfo, error) {
	var ci ClusterInfo
	err := f.view(func(tx *badger.Txn) error {
		_, err := getJSON(tx, keyCluster, &ci)
		return err
	})
	return ci, err
}

// Changes returns the change feed after index `after`, at most limit
// changes. When `after` is older than the feed keeps, or newer than the
// state (a follower of another cluster or of a restored one), it returns a
// full snapshot of the catalogue instead.
func (f *FSM) Changes(after uint64, limit int) (api.ChangeFeed, error) {
	var feed api.ChangeFeed
	err := f.view(func(tx *badger.Txn) error {
		var ci ClusterInfo
		if _, err := getJSON(tx, keyCluster, &ci); err != nil {
			return err
		}
		feed.ClusterID, feed.Epoch = ci.ClusterID, ci.Epoch
		applied, err := txUint64(tx, keyApplied)
		if err != nil {
			return err
		}
		floor, err := txUint64(tx, keyChgFloor)
		if err != nil {
			return err
		}
		feed.Index = applied
		if after < floor || after > applied {
			feed.Snapshot = true
			feed.Objects = []api.Object{}
			return scan(tx, prefixCatalog, func(k, v []byte) (bool, error) {
				kind, id, _ := cutKind(k[len(prefixCatalog):])
				o, err := toObject(kind, id, v)
				feed.Objects = append(feed.Objects, o)
				return true, err
			})
		}
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefixChange
		it := tx.NewIterator(opts)
		defer it.Close()
		for it.Seek(seqKey(prefixChange, after+1, 0)); it.Valid(); it.Next() {
			idx := seqIndex(it.Item().Key(), prefixChange)
			if limit > 0 && len(feed.Changes) >= limit && idx != feed.Changes[len(feed.Changes)-1].Index {
				// Stop at an index boundary so a reader never holds half
				// of an entry's changes.
				feed.Index = feed.Changes[len(feed.Changes)-1].Index
				break
			}
			if err := it.Item().Value(func(v []byte) error {
				if len(v) > 0 && v[0] == deriveBatchRecord {
					cs, err := deriveChanges(idx, v)
					feed.Changes = append(feed.Changes, cs...)
					return err
				}
				var c api.Change
				err := json.Unmarshal(v, &c)
				feed.Changes = append(feed.Changes, c)
				return err
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return feed, err
}

// SnapshotFeed returns the whole catalogue as a snapshot feed at the
// applied index: for an agent that holds another cluster's or epoch's copy.
func (f *FSM) SnapshotFeed() (api.ChangeFeed, error) {
	var feed api.ChangeFeed
	err := f.view(func(tx *badger.Txn) error {
		var ci ClusterInfo
		if _, err := getJSON(tx, keyCluster, &ci); err != nil {
			return err
		}
		applied, err := txUint64(tx, keyApplied)
		if err != nil {
			return err
		}
		feed = api.ChangeFeed{ClusterID: ci.ClusterID, Epoch: ci.Epoch, Index: applied, Snapshot: true, Objects: []api.Object{}}
		return scan(tx, prefixCatalog, func(k, v []byte) (bool, error) {
			kind, id, _ := cutKind(k[len(prefixCatalog):])
			o, err := toObject(kind, id, v)
			feed.Objects = append(feed.Objects, o)
			return true, err
		})
	})
	return feed, err
}

func cutKind(k []byte) (string, string, bool) {
	for i, c := range k {
		if c == '/' {
			return string(k[:i]), string(k[i+1:]), true
		}
	}
	return string(k), "", false
}

func txUint64(tx *badger.Txn, key []byte) (uint64, error) {
	it, err := tx.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var v uint64
	err = it.Value(func(b []byte) error {
		if len(b) != 8 {
			return fmt.Errorf("%s is %d bytes", key, len(b))
		}
		v = u64From(b)
		return nil
	})
	return v, err
}

// Audit returns the newest `limit` audit entries, oldest first.
func (f *FSM) Audit(limit int) ([]api.AuditEntry, error) {
	out := []api.AuditEntry{}
	err := f.view(func(tx *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefixAudit
		opts.Reverse = true
		it := tx.NewIterator(opts)
		defer it.Close()
		end := append(append([]byte{}, prefixAudit...), 0xff)
		for it.Seek(end); it.Valid(); it.Next() {
			var a api.AuditEntry
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &a) }); err != nil {
				return err
			}
			out = append(out, a)
			if limit > 0 && len(out) >= limit {
				break
			}
		}
		return nil
	})
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

// Token looks a token up by the hex SHA-256 of its secret.
func (f *FSM) Token(hash string) (api.TokenInfo, bool, error) {
	var st storedToken
	var found bool
	err := f.view(func(tx *badger.Txn) error {
		var err error
		found, err = getJSON(tx, strKey(prefixToken, hash), &st)
		return err
	})
	return api.TokenInfo{ID: st.ID, Role: st.Role, Name: st.Name, Created: st.Created}, found, err
}

// TokenByID finds a stored token by its id: its hash (the key) and info.
func (f *FSM) TokenByID(id string) (hash string, info api.TokenInfo, found bool, err error) {
	err = f.view(func(tx *badger.Txn) error {
		return scan(tx, prefixToken, func(k, v []byte) (bool, error) {
			var st storedToken
			if err := json.Unmarshal(v, &st); err != nil {
				return false, err
			}
			if st.ID != id {
				return true, nil
			}
			hash, info, found = string(k[len(prefixToken):]), api.TokenInfo{ID: st.ID, Role: st.Role, Name: st.Name, Created: st.Created}, true
			return false, nil
		})
	})
	return hash, info, found, err
}

// Tokens lists every stored token (without secrets).
func (f *FSM) Tokens() ([]api.TokenInfo, error) {
	out := []api.TokenInfo{}
	err := f.view(func(tx *badger.Txn) error {
		return scan(tx, prefixToken, func(_, v []byte) (bool, error) {
			var st storedToken
			err := json.Unmarshal(v, &st)
			out = append(out, api.TokenInfo{ID: st.ID, Role: st.Role, Name: st.Name, Created: st.Created})
			return true, err
		})
	})
	return out, err
}

// Nodes returns the registered control-plane nodes by id.
func (f *FSM) Nodes() (map[string]NodeRegister, error) {
	out := map[string]NodeRegister{}
	err := f.view(func(tx *badger.Txn) error {
		return scan(tx, prefixNode, func(_, v []byte) (bool, error) {
			var n NodeRegister
			err := json.Unmarshal(v, &n)
			out[n.ID] = n
			return true, err
		})
	})
	return out, err
}
