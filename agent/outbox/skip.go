package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// ErrCannotSkip: the events waiting in the outbox do not fit in one
// transaction, so SkipPast cannot renumber them atomically.
var ErrCannotSkip = errors.New("the outbox's backlog is too large to renumber in one transaction")

// SkipPast renumbers the outbox after the cluster's highest sequence for
// this agent when the outbox was lost or replaced (a wiped disk, a restored
// backup) while the agent kept its identity: the events it numbered again
// would be dropped by the cluster as duplicates of the ones it holds. That
// is known when highest is above the last sequence the outbox assigned, or
// when the outbox is unanchored (created for an enrolled agent,
// Config.Enrolled: it may have assigned as many numbers as were lost, or
// more, and the numbers alone cannot tell). The waiting events (acked,
// last] become (highest, highest+n] in one transaction, with the counters
// and the idempotency keys that name them, and the next append follows
// them. It reports how many events moved; nothing happens (0, nil) when
// neither holds. Appends and acknowledgements wait while it runs.
func (o *Outbox) SkipPast(highest uint64) (int, error) {
	o.closeMu.RLock()
	defer o.closeMu.RUnlock()
	if o.closed {
		return 0, ErrClosed
	}
	o.commitMu.Lock()
	defer o.commitMu.Unlock()
	o.ackMu.Lock()
	defer o.ackMu.Unlock()
	o.mu.Lock()
	last, acked, unanchored := o.last, o.acked, o.unanchored
	o.mu.Unlock()
	if highest <= last && !unanchored {
		return 0, nil
	}
	if unanchored && highest <= acked {
		// Nothing of this agent's beyond what the outbox acknowledged:
		// its numbers stand.
		if err := o.db.Update(func(tx *badger.Txn) error { return tx.Delete(keyUnanchored) }); err != nil {
			return 0, fmt.Errorf("anchor the outbox: %w", err)
		}
		o.mu.Lock()
		o.unanchored = false
		o.mu.Unlock()
		return 0, nil
	}
	shift := highest - acked
	tx := o.db.NewTransaction(true)
	defer tx.Discard()
	it := tx.NewIterator(badger.IteratorOptions{Prefix: prefixEvent})
	type moved struct {
		seq uint64
		val []byte
	}
	var evs []moved
	for it.Seek(eventKey(acked + 1)); it.Valid(); it.Next() {
		seq, ok := seqOfKey(it.Item().Key())
		if !ok || seq > last {
			break
		}
		v, err := it.Item().ValueCopy(nil)
		if err != nil {
			it.Close()
			return 0, fmt.Errorf("skip past %d: read event %d: %w", highest, seq, err)
		}
		evs = append(evs, moved{seq, v})
	}
	it.Close()
	// The idempotency keys of the waiting events answer replays with the
	// event's sequence: they move with it, keeping their expiry.
	type idem struct {
		key, val []byte
		expires  uint64
	}
	var idems []idem
	iit := tx.NewIterator(badger.IteratorOptions{Prefix: prefixIdem})
	for iit.Rewind(); iit.Valid(); iit.Next() {
		item := iit.Item()
		v, err := item.ValueCopy(nil)
		if err != nil {
			iit.Close()
			return 0, fmt.Errorf("skip past %d: read idempotency key: %w", highest, err)
		}
		if len(v) < 8 {
			continue
		}
		if seq := binary.BigEndian.Uint64(v); seq > acked && seq <= last {
			binary.BigEndian.PutUint64(v, seq+shift)
			idems = append(idems, idem{item.KeyCopy(nil), v, item.ExpiresAt()})
		}
	}
	iit.Close()
	set := func(err error) error {
		if errors.Is(err, badger.ErrTxnTooBig) {
			return ErrCannotSkip
		}
		return err
	}
	for _, e := range evs {
		if err := tx.Delete(eventKey(e.seq)); err != nil {
			return 0, set(err)
		}
	}
	for _, e := range evs {
		if err := tx.Set(eventKey(e.seq+shift), e.val); err != nil {
			return 0, set(err)
		}
	}
	for _, k := range idems {
		ent := badger.NewEntry(k.key, k.val)
		if k.expires > 0 {
			left := time.Until(time.Unix(int64(k.expires), 0))
			if left <= 0 {
				continue
			}
			ent = ent.WithTTL(left)
		}
		if err := tx.SetEntry(ent); err != nil {
			return 0, set(err)
		}
	}
	newLast := highest + uint64(len(evs))
	if err := tx.Set(keyLast, u64(newLast)); err != nil {
		return 0, set(err)
	}
	if err := tx.Set(keyAcked, u64(highest)); err != nil {
		return 0, set(err)
	}
	if err := tx.Delete(keyUnanchored); err != nil {
		return 0, set(err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("skip past %d: %w", highest, set(err))
	}
	if err := o.sync(); err != nil {
		o.mu.Lock()
		o.failure = fmt.Errorf("sync after renumbering the outbox: %w", err)
		o.mu.Unlock()
		return 0, err
	}
	o.mu.Lock()
	o.last, o.acked, o.unanchored = newLast, highest, false
	o.mu.Unlock()
	return len(evs), nil
}
