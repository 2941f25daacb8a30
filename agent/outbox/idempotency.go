package outbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"touchpoint.dev/touchpoint/protocol"
)

// Idempotency keys let a client retry an append whose answer it did not
// get (a timeout, a dropped connection, a crash of the agent after the
// sync) without logging the event twice. The key is stored with the event,
// in the same transaction and sync, as
//
//	i/<key>  the event's sequence (8 bytes) and the digest of what the
//	         client sent (32 bytes), for IdempotencyTTL
//
// so a retry after a restart is recognised too.
var prefixIdem = []byte("i/")

// IdempotencyTTL is how long an idempotency key is remembered.
const IdempotencyTTL = 24 * time.Hour

// MaxIdempotencyKey is the longest key accepted, in bytes.
const MaxIdempotencyKey = 128

// ErrKeyReused: the idempotency key was given before (within
// IdempotencyTTL) with another request. Nothing was stored.
var ErrKeyReused = errors.New("idempotency key reused for another request")

// Idempotency is an append's key and the digest of the request it came
// with: the same key with the same digest is a retry, with another digest
// a mistake.
type Idempotency struct {
	Key    string
	Digest [sha256.Size]byte
}

func idemKey(key string) []byte { return append(append([]byte{}, prefixIdem...), key...) }

func idemValue(seq uint64, digest [sha256.Size]byte) []byte {
	return append(binary.BigEndian.AppendUint64(nil, seq), digest[:]...)
}

// AppendIdempotent is Append with an idempotency key. When the key was
// stored before with the same digest, nothing is stored and the earlier
// event's sequence is returned with replayed true (the event's other fields
// are e's, as given now); with another digest it fails with ErrKeyReused.
// Two appends with one key in flight at once are ordered by the committer:
// the second is the replay.
func (o *Outbox) AppendIdempotent(ctx context.Context, e protocol.ContactEvent, id Idempotency) (ev protocol.ContactEvent, replayed bool, err error) {
	if id.Key == "" || len(id.Key) > MaxIdempotencyKey {
		return protocol.ContactEvent{}, false, fmt.Errorf("append: idempotency key of %d bytes: 1 to %d", len(id.Key), MaxIdempotencyKey)
	}
	r, err := o.prepare(ctx, e)
	if err != nil {
		return protocol.ContactEvent{}, false, err
	}
	r.idem = &id
	if err := o.enqueue(ctx, r); err != nil {
		return protocol.ContactEvent{}, false, err
	}
	ev, err = o.wait(ctx, r)
	return ev, r.replayed, err
}

// storedAppend looks id's key up in tx: ok is false when it is new;
// otherwise seq is the earlier append's sequence, or err is ErrKeyReused
// when that append came with another request.
func storedAppend(tx *badger.Txn, id *Idempotency) (seq uint64, ok bool, err error) {
	item, err := tx.Get(idemKey(id.Key))
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return 0, false, err
	}
	if len(v) != 8+sha256.Size {
		return 0, false, fmt.Errorf("idempotency key %q: stored value of %d bytes", id.Key, len(v))
	}
	if !bytes.Equal(v[8:], id.Digest[:]) {
		return 0, true, ErrKeyReused
	}
	return binary.BigEndian.Uint64(v[:8]), true, nil
}
