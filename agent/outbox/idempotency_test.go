package outbox

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"testing"
)

func idem(key, body string) Idempotency {
	return Idempotency{Key: key, Digest: sha256.Sum256([]byte(body))}
}

// TestOutbox_IdempotencyKeyStoresAnEventOnce: a retry with the key of an
// earlier append gets that append's sequence and stores nothing, also
// after a restart; the key with another request is refused.
func TestOutbox_IdempotencyKeyStoresAnEventOnce(t *testing.T) {
	o := openT(t, testConfig(t.TempDir()))
	ctx := context.Background()
	first, replayed, err := o.AppendIdempotent(ctx, event(1), idem("k-1", "body 1"))
	if err != nil || replayed || first.Seq != 1 {
		t.Fatalf("first: %+v replayed %v %v", first, replayed, err)
	}
	appendN(t, o, 2, 1) // seq 2, without a key
	again, replayed, err := o.AppendIdempotent(ctx, event(1), idem("k-1", "body 1"))
	if err != nil || !replayed || again.Seq != 1 {
		t.Fatalf("retry: seq %d replayed %v %v, want seq 1 replayed", again.Seq, replayed, err)
	}
	if _, _, err := o.AppendIdempotent(ctx, event(3), idem("k-1", "another body")); !errors.Is(err, ErrKeyReused) {
		t.Fatalf("the key with another request: %v, want ErrKeyReused", err)
	}
	o = reopen(t, o)
	if again, replayed, err = o.AppendIdempotent(ctx, event(1), idem("k-1", "body 1")); err != nil || !replayed || again.Seq != 1 {
		t.Fatalf("retry after a restart: seq %d replayed %v %v", again.Seq, replayed, err)
	}
	if got := pendingSeqs(t, o, 0); !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("pending %v, want 1 and 2 only", got)
	}
	if next, _, err := o.AppendIdempotent(ctx, event(4), idem("k-2", "body 4")); err != nil || next.Seq != 3 {
		t.Fatalf("a new key: seq %d %v, want 3", next.Seq, err)
	}
	for _, bad := range []string{"", string(make([]byte, MaxIdempotencyKey+1))} {
		if _, _, err := o.AppendIdempotent(ctx, event(5), idem(bad, "x")); err == nil {
			t.Fatalf("a key of %d bytes was taken", len(bad))
		}
	}
}

// TestOutbox_ConcurrentRetriesShareOneSequence: appends with one key in
// flight at once (a client retrying while its first request still waits
// for the sync) store one event; every one of them gets its sequence.
func TestOutbox_ConcurrentRetriesShareOneSequence(t *testing.T) {
	o := openT(t, testConfig(t.TempDir()))
	const n = 32
	seqs := make([]uint64, n)
	replays := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev, replayed, err := o.AppendIdempotent(context.Background(), event(7), idem("same", "body"))
			if err != nil {
				t.Error(err)
			}
			seqs[i], replays[i] = ev.Seq, replayed
		}()
	}
	wg.Wait()
	stored := 0
	for i := range n {
		if seqs[i] != 1 {
			t.Fatalf("append %d got seq %d, want 1", i, seqs[i])
		}
		if !replays[i] {
			stored++
		}
	}
	if stored != 1 {
		t.Fatalf("%d appends say they stored the event, want 1", stored)
	}
	if got := pendingSeqs(t, o, 0); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("pending %v, want one event", got)
	}
}
