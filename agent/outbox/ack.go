package outbox

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"touchpoint.dev/touchpoint/protocol"
)

// ackChunk bounds the deletes of one Ack transaction, well inside badger's
// per-transaction entry limit.
const ackChunk = 4096

// Pending returns, in sequence order, at most max stored events with a
// sequence above after. It never returns an event before its Append has
// been synced, nor one already acknowledged.
func (o *Outbox) Pending(after uint64, max int) ([]protocol.ContactEvent, error) {
	var out []protocol.ContactEvent
	err := o.scanPending(after, max, func(seq uint64, v []byte) error {
		e, err := o.decodeStored(seq, v)
		if err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// PendingBinary is Pending with the events in protocol's binary form,
// concatenated, taken from the stored bytes with the sequence spliced in:
// what the link sends (wire.WriteEventsBinary) without decoding anything.
// It also returns the number of events and the first and last sequence.
func (o *Outbox) PendingBinary(after uint64, max int) (n int, events []byte, first, last uint64, err error) {
	err = o.scanPending(after, max, func(seq uint64, v []byte) error {
		if len(v) >= 2 && v[0] != '{' && v[1] == 0 {
			events = append(events, v[0])
			events = binary.AppendUvarint(events, seq)
			events = append(events, v[2:]...)
		} else {
			// Written by an earlier version (JSON): decode and encode.
			e, err := o.decodeStored(seq, v)
			if err != nil {
				return err
			}
			events = protocol.AppendEventBinary(events, &e)
		}
		if first == 0 {
			first = seq
		}
		last = seq
		n++
		return nil
	})
	return n, events, first, last, err
}

// decodeStored reads a stored event: protocol's binary form, or the JSON of
// earlier versions.
func (o *Outbox) decodeStored(seq uint64, v []byte) (protocol.ContactEvent, error) {
	var e protocol.ContactEvent
	if len(v) > 0 && v[0] == '{' {
		if err := json.Unmarshal(v, &e); err != nil {
			return e, fmt.Errorf("decode event %d: %w", seq, err)
		}
	} else {
		r := protocol.NewBinaryReader(v)
		r.Event(&e)
		if r.Err() != nil {
			return e, fmt.Errorf("decode event %d: %w", seq, r.Err())
		}
		e.AgentID = o.cfg.AgentID
	}
	e.Seq = seq
	return e, nil
}

// scanPending calls fn, in sequence order, for at most max stored events
// with a sequence above after (and above the acknowledged one), never one
// whose append is not synced yet.
func (o *Outbox) scanPending(after uint64, max int, fn func(seq uint64, v []byte) error) error {
	o.closeMu.RLock()
	defer o.closeMu.RUnlock()
	if o.closed {
		return ErrClosed
	}
	if max <= 0 {
		return nil
	}
	o.mu.Lock()
	last, acked := o.last, o.acked
	o.mu.Unlock()
	from := after + 1
	if from <= acked {
		from = acked + 1
	}
	if from > last {
		return nil
	}
	n := last - from + 1
	if n > uint64(max) {
		n = uint64(max)
	}
	seen := uint64(0)
	err := o.db.View(func(tx *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefixEvent
		opts.PrefetchSize = int(min(n, 256))
		it := tx.NewIterator(opts)
		defer it.Close()
		for it.Seek(eventKey(from)); it.Valid() && seen < n; it.Next() {
			item := it.Item()
			seq, ok := seqOfKey(item.Key())
			if !ok {
				return fmt.Errorf("malformed event key %x", item.Key())
			}
			if seq > last {
				break
			}
			if err := item.Value(func(v []byte) error { return fn(seq, v) }); err != nil {
				return err
			}
			seen++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read pending events after %d: %w", after, err)
	}
	return nil
}

// Ack deletes every event with a sequence up to and including through, and
// records through as the highest acknowledged sequence in the same
// transaction; it returns once that is synced. Acking at or below the
// current acknowledged sequence does nothing; acking above the last
// assigned sequence is an error.
func (o *Outbox) Ack(through uint64) error {
	o.closeMu.RLock()
	defer o.closeMu.RUnlock()
	if o.closed {
		return ErrClosed
	}
	o.ackMu.Lock()
	defer o.ackMu.Unlock()
	o.mu.Lock()
	last, acked := o.last, o.acked
	o.mu.Unlock()
	if through <= acked {
		return nil
	}
	if through > last {
		return fmt.Errorf("ack %d: above the last assigned sequence %d", through, last)
	}
	for from := acked + 1; from <= through; {
		to := min(through, from+ackChunk-1)
		freed, err := o.deleteRange(from, to)
		if err != nil {
			return fmt.Errorf("ack %d: %w", through, err)
		}
		o.mu.Lock()
		o.acked = to
		o.bytes -= freed
		if freed > 0 {
			o.full = false
		}
		o.mu.Unlock()
		from = to + 1
	}
	// Not synced: losing an acknowledgement in a crash only brings the
	// events back, and the control plane drops them as duplicates (its
	// per-agent mark is where the link resumes). The next Append's sync
	// makes the deletes durable anyway.
	return nil
}

// deleteRange deletes events from..to and sets m/acked to to in one
// transaction. It returns the bytes freed.
func (o *Outbox) deleteRange(from, to uint64) (int64, error) {
	tx := o.db.NewTransaction(true)
	defer tx.Discard()
	var freed int64
	var keys [][]byte
	it := tx.NewIterator(badger.IteratorOptions{Prefix: prefixEvent})
	for it.Seek(eventKey(from)); it.Valid(); it.Next() {
		item := it.Item()
		seq, ok := seqOfKey(item.Key())
		if !ok || seq > to {
			break
		}
		freed += int64(len(item.Key())) + item.ValueSize()
		keys = append(keys, item.KeyCopy(nil))
	}
	it.Close()
	for _, k := range keys {
		if err := tx.Delete(k); err != nil {
			return 0, fmt.Errorf("delete events %d-%d: %w", from, to, err)
		}
	}
	if err := tx.Set(keyAcked, u64(to)); err != nil {
		return 0, fmt.Errorf("record ack %d: %w", to, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("delete events %d-%d: %w", from, to, err)
	}
	return freed, nil
}
