package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"touchpoint.dev/touchpoint/protocol"
)

var testTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func testConfig(dir string) Config {
	return Config{Dir: dir, AgentID: "agent-1", Now: func() time.Time { return testTime }}
}

func openT(t *testing.T, cfg Config) *Outbox {
	t.Helper()
	o, err := Open(cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = o.Close() })
	return o
}

func reopen(t *testing.T, o *Outbox) *Outbox {
	t.Helper()
	if err := o.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return openT(t, o.cfg)
}

func event(i int) protocol.ContactEvent {
	return protocol.ContactEvent{
		CustomerID: fmt.Sprintf("cust-%06d", i),
		Channel:    "kiosk",
		Site:       "store-042",
		Type:       protocol.ContactOffer,
		Outcome:    protocol.OutcomePresented,
		OfferID:    "offer-7",
	}
}

func appendN(t *testing.T, o *Outbox, from, n int) []protocol.ContactEvent {
	t.Helper()
	var out []protocol.ContactEvent
	for i := from; i < from+n; i++ {
		e, err := o.Append(context.Background(), event(i))
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		out = append(out, e)
	}
	return out
}

func pendingSeqs(t *testing.T, o *Outbox, after uint64) []uint64 {
	t.Helper()
	evs, err := o.Pending(after, 1<<30)
	if err != nil {
		t.Fatalf("pending: %v", err)
	}
	seqs := make([]uint64, len(evs))
	for i, e := range evs {
		seqs[i] = e.Seq
	}
	return seqs
}

func seqRange(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func TestOutbox_AppendStampsAgentSeqAndTime(t *testing.T) {
	o := openT(t, testConfig(t.TempDir()))
	in := event(1)
	in.AgentID = "someone-else"
	in.Seq = 99
	got, err := o.Append(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if got.AgentID != "agent-1" || got.Seq != 1 || !got.Time.Equal(testTime) {
		t.Fatalf("appended %+v, want agent-1, seq 1, time %v", got, testTime)
	}
	own := event(2)
	own.Time = testTime.Add(-time.Hour)
	got2, err := o.Append(context.Background(), own)
	if err != nil {
		t.Fatal(err)
	}
	if got2.Seq != 2 || !got2.Time.Equal(own.Time) {
		t.Fatalf("second append %+v: want seq 2 and the caller's time", got2)
	}
	evs, err := o.Pending(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].CustomerID != got.CustomerID || evs[0].Seq != 1 ||
		evs[0].AgentID != "agent-1" || !evs[1].Time.Equal(own.Time) {
		t.Fatalf("pending %+v does not match what was appended", evs)
	}
}

// Invariant 1.
func TestOutbox_NextSeqSurvivesRestartAfterEverythingAcked(t *testing.T) {
	o := openT(t, testConfig(t.TempDir()))
	appendN(t, o, 0, 5)
	if err := o.Ack(5); err != nil {
		t.Fatal(err)
	}
	o = reopen(t, o)
	st := o.Stats()
	if st.NextSeq != 6 || st.Acked != 5 || st.Backlog != 0 || st.BacklogBytes != 0 {
		t.Fatalf("stats after restart %+v, want next 6, acked 5, empty", st)
	}
	e, err := o.Append(context.Background(), event(6))
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 6 {
		t.Fatalf("append after restart got seq %d, want 6", e.Seq)
	}
	if got := pendingSeqs(t, o, 0); !slices.Equal(got, []uint64{6}) {
		t.Fatalf("pending %v, want [6]", got)
	}
}

// Invariant 2.
func TestOutbox_ConcurrentAppendsAreGapFreeAcrossRestarts(t *testing.T) {
	o := openT(t, testConfig(t.TempDir()))
	const writers, each = 16, 40
	run := func(o *Outbox, round int) []uint64 {
		var mu sync.Mutex
		var seqs []uint64
		byCustomer := map[string]uint64{}
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					e, err := o.Append(context.Background(), event(round*100000+w*1000+i))
					if err != nil {
						t.Errorf("append: %v", err)
						return
					}
					mu.Lock()
					seqs = append(seqs, e.Seq)
					byCustomer[e.CustomerID] = e.Seq
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		evs, err := o.Pending(0, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if s, ok := byCustomer[e.CustomerID]; ok && s != e.Seq {
				t.Fatalf("customer %s stored at seq %d, Append returned %d", e.CustomerID, e.Seq, s)
			}
		}
		slices.Sort(seqs)
		return seqs
	}
	if got := run(o, 1); !slices.Equal(got, seqRange(1, writers*each)) {
		t.Fatalf("round 1 sequences are not exactly 1..%d: %v", writers*each, got)
	}
	o = reopen(t, o)
	if got := run(o, 2); !slices.Equal(got, seqRange(writers*each+1, 2*writers*each)) {
		t.Fatalf("round 2 sequences do not continue gap-free from %d: %v", writers*each, got)
	}
	if got := pendingSeqs(t, o, 0); !slices.Equal(got, seqRange(1, 2*writers*each)) {
		t.Fatalf("pending is not 1..%d in order: %v", 2*writers*each, got)
	}
}

// Invariant 3.
func TestOutbox_AckDeletesThroughSequence(t *testing.T) {
	o := openT(t, testConfig(t.TempDir()))
	appendN(t, o, 0, 10)
	if err := o.Ack(4); err != nil {
		t.Fatal(err)
	}
	if got := pendingSeqs(t, o, 0); !slices.Equal(got, seqRange(5, 10)) {
		t.Fatalf("pending after ack 4: %v, want 5..10", got)
	}
	if err := o.Ack(2); err != nil {
		t.Fatalf("ack below acked: %v, want a no-op", err)
	}
	if err := o.Ack(11); err == nil {
		t.Fatal("ack above the last assigned sequence succeeded")
	}
	o = reopen(t, o)
	if got := pendingSeqs(t, o, 0); !slices.Equal(got, seqRange(5, 10)) {
		t.Fatalf("pending after restart: %v, want 5..10", got)
	}
	evs, err := o.Pending(6, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Seq != 7 || evs[1].Seq != 8 || evs[0].CustomerID != event(6).CustomerID {
		t.Fatalf("Pending(6, 2) = %+v, want events 7 and 8", evs)
	}
	if st := o.Stats(); st.Acked != 4 || st.Backlog != 6 || st.NextSeq != 11 {
		t.Fatalf("stats %+v, want acked 4, backlog 6, next 11", st)
	}
	if err := o.Ack(10); err != nil {
		t.Fatal(err)
	}
	if got := pendingSeqs(t, o, 0); len(got) != 0 {
		t.Fatalf("pending after acking everything: %v", got)
	}
}

func TestOutbox_AckManyChunks(t *testing.T) {
	o := openT(t, testConfig(t.TempDir()))
	n := ackChunk*2 + 10
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				if _, err := o.Append(context.Background(), event(i)); err != nil {
					t.Errorf("append: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := o.Ack(uint64(n - 5)); err != nil {
		t.Fatal(err)
	}
	o = reopen(t, o)
	if got := pendingSeqs(t, o, 0); !slices.Equal(got, seqRange(uint64(n-4), uint64(n))) {
		t.Fatalf("pending %v, want the last 5", got)
	}
}

// Invariant 5.
func TestOutbox_FullRefusesWithoutLoss(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MaxBytes = 2000
	o := openT(t, cfg)
	var stored int
	for ; stored < 1000; stored++ {
		_, err := o.Append(context.Background(), event(stored))
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if stored == 0 || stored == 1000 {
		t.Fatalf("stored %d events before ErrFull", stored)
	}
	st := o.Stats()
	if !st.Full || st.BacklogBytes > cfg.MaxBytes || st.NextSeq != uint64(stored)+1 {
		t.Fatalf("stats at full %+v: want full, at most %d bytes, next seq %d", st, cfg.MaxBytes, stored+1)
	}
	if _, err := o.Append(context.Background(), event(5000)); !errors.Is(err, ErrFull) {
		t.Fatalf("append while full: %v, want ErrFull", err)
	}
	o = reopen(t, o)
	if _, err := o.Append(context.Background(), event(5001)); !errors.Is(err, ErrFull) {
		t.Fatalf("append while full after restart: %v, want ErrFull", err)
	}
	if got := pendingSeqs(t, o, 0); !slices.Equal(got, seqRange(1, uint64(stored))) {
		t.Fatalf("pending %v, want 1..%d: ErrFull must not drop stored events", got, stored)
	}
	if err := o.Ack(2); err != nil {
		t.Fatal(err)
	}
	if o.Stats().Full {
		t.Fatal("still full after an ack freed space")
	}
	e, err := o.Append(context.Background(), event(6000))
	if err != nil {
		t.Fatalf("append after ack: %v", err)
	}
	if e.Seq != uint64(stored)+1 {
		t.Fatalf("append after ack got seq %d, want %d (refusals take no sequence)", e.Seq, stored+1)
	}
}

// Invariant 6.
func TestOutbox_InvalidEventsTakeNoSequence(t *testing.T) {
	o := openT(t, testConfig(t.TempDir()))
	huge := event(0)
	huge.OfferID = string(bytes.Repeat([]byte("x"), MaxEventBytes))
	for _, tc := range []struct {
		name string
		mod  func(*protocol.ContactEvent)
	}{
		{"unknown type", func(e *protocol.ContactEvent) { e.Type = "spam" }},
		{"unknown outcome", func(e *protocol.ContactEvent) { e.Outcome = "maybe" }},
		{"missing customer", func(e *protocol.ContactEvent) { e.CustomerID = "" }},
		{"missing channel", func(e *protocol.ContactEvent) { e.Channel = "" }},
		{"too large", func(e *protocol.ContactEvent) { *e = huge }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := event(1)
			tc.mod(&e)
			if _, err := o.Append(context.Background(), e); err == nil || errors.Is(err, ErrFull) {
				t.Fatalf("append: %v, want a validation error", err)
			}
			if st := o.Stats(); st.NextSeq != 1 || st.Backlog != 0 || st.BacklogBytes != 0 {
				t.Fatalf("stats after a refused event: %+v", st)
			}
		})
	}
	o = reopen(t, o)
	e, err := o.Append(context.Background(), event(1))
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != 1 {
		t.Fatalf("first valid event got seq %d, want 1", e.Seq)
	}
	if got := pendingSeqs(t, o, 0); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("pending %v, want [1]", got)
	}
}

func TestOutbox_CanceledAppendTakesNoSequence(t *testing.T) {
	o := openT(t, testConfig(t.TempDir()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := o.Append(ctx, event(1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("append with a canceled context: %v", err)
	}
	if e := appendN(t, o, 2, 1); e[0].Seq != 1 {
		t.Fatalf("next append got seq %d, want 1", e[0].Seq)
	}
}

// Invariant 4, the group-commit half: Appends that arrive while a sync runs
// share the next one, and none is answered before its sync.
func TestOutbox_GroupCommitSharesOneSync(t *testing.T) {
	o := openT(t, testConfig(t.TempDir()))
	var syncs, synced atomic.Int64
	realSync := o.sync
	o.sync = func() error {
		syncs.Add(1)
		time.Sleep(20 * time.Millisecond)
		if err := realSync(); err != nil {
			return err
		}
		// The group just synced ends at the committed m/last.
		return o.db.View(func(tx *badger.Txn) error {
			last, err := getUint64(tx, keyLast)
			synced.Store(int64(last))
			return err
		})
	}
	const writers = 64
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			e, err := o.Append(context.Background(), event(i))
			if err != nil {
				t.Errorf("append: %v", err)
				return
			}
			if s := synced.Load(); uint64(s) < e.Seq {
				t.Errorf("append of seq %d answered when only %d were synced", e.Seq, s)
			}
		})
	}
	wg.Wait()
	if n := syncs.Load(); n < 1 || n > writers/4 {
		t.Fatalf("%d appends used %d syncs; a group commit shares them", writers, n)
	}
}

// Pending must not show an event whose group is committed but not yet
// synced: a crash could take it back and its sequence would be reused.
func TestOutbox_PendingHidesUnsyncedEvents(t *testing.T) {
	o := openT(t, testConfig(t.TempDir()))
	inSync, release := make(chan struct{}), make(chan struct{})
	realSync := o.sync
	o.sync = func() error {
		close(inSync)
		<-release
		return realSync()
	}
	done := make(chan error, 1)
	go func() {
		_, err := o.Append(context.Background(), event(1))
		done <- err
	}()
	<-inSync
	if got := pendingSeqs(t, o, 0); len(got) != 0 {
		t.Errorf("pending shows %v before the sync", got)
	}
	if st := o.Stats(); st.NextSeq != 1 {
		t.Errorf("stats before the sync: %+v", st)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := pendingSeqs(t, o, 0); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("pending after the sync: %v", got)
	}
}

func TestOutbox_SyncFailureFailsGroupUntilReopen(t *testing.T) {
	o := openT(t, testConfig(t.TempDir()))
	appendN(t, o, 0, 3)
	o.sync = func() error { return errors.New("disk on fire") }
	if _, err := o.Append(context.Background(), event(3)); err == nil {
		t.Fatal("append succeeded although its sync failed")
	}
	o.sync = o.db.Sync
	if _, err := o.Append(context.Background(), event(4)); err == nil {
		t.Fatal("append succeeded on a failed outbox")
	}
	o = reopen(t, o)
	// The unsynced event may or may not have survived (here it did: the
	// process did not crash); either way numbering continues without gaps.
	st := o.Stats()
	e := appendN(t, o, 5, 1)[0]
	if e.Seq != st.NextSeq {
		t.Fatalf("append after reopen got seq %d, want %d", e.Seq, st.NextSeq)
	}
	if got := pendingSeqs(t, o, 0); !slices.Equal(got, seqRange(1, e.Seq)) {
		t.Fatalf("pending %v, want 1..%d", got, e.Seq)
	}
}

func TestOutbox_ClosedRefuses(t *testing.T) {
	o := openT(t, testConfig(t.TempDir()))
	appendN(t, o, 0, 1)
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Append(context.Background(), event(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if _, err := o.Pending(0, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("pending after close: %v", err)
	}
	if err := o.Ack(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("ack after close: %v", err)
	}
	if err := o.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestOutbox_CloseDuringAppends(t *testing.T) {
	o := openT(t, testConfig(t.TempDir()))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var acked []uint64
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				e, err := o.Append(context.Background(), event(w*1000+i))
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				mu.Lock()
				acked = append(acked, e.Seq)
				mu.Unlock()
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	o = openT(t, o.cfg)
	got := pendingSeqs(t, o, 0)
	for _, s := range acked {
		if _, ok := slices.BinarySearch(got, s); !ok {
			t.Fatalf("acknowledged seq %d missing after close", s)
		}
	}
	if !slices.Equal(got, seqRange(1, uint64(len(got)))) {
		t.Fatalf("stored sequences have gaps: %v", got)
	}
}

func TestOutbox_RefusesAnotherAgentsOutbox(t *testing.T) {
	cfg := testConfig(t.TempDir())
	o := openT(t, cfg)
	appendN(t, o, 0, 1)
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.AgentID = "agent-2"
	if o2, err := Open(cfg); err == nil {
		o2.Close()
		t.Fatal("opened agent-1's outbox as agent-2")
	}
}

func TestOutbox_EncryptionAtRest(t *testing.T) {
	const secret = "cust-SECRET-4711"
	dirHas := func(t *testing.T, dir string) bool {
		t.Helper()
		found := false
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			found = found || bytes.Contains(b, []byte(secret))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	// write appends the secret and reports whether the files (the write-ahead
	// log while open, the tables after close) hold it in clear.
	write := func(t *testing.T, cfg Config) bool {
		o := openT(t, cfg)
		e := event(1)
		e.CustomerID = secret
		if _, err := o.Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		open := dirHas(t, cfg.Dir)
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
		return open || dirHas(t, cfg.Dir)
	}

	plain := testConfig(t.TempDir())
	if !write(t, plain) {
		t.Fatal("control: the plain outbox does not hold the customer id in clear; the check below proves nothing")
	}

	enc := testConfig(t.TempDir())
	enc.EncryptionKey = bytes.Repeat([]byte{7}, 32)
	if write(t, enc) {
		t.Fatal("the encrypted outbox holds the customer id in clear")
	}
	noKey := enc
	noKey.EncryptionKey = nil
	if o, err := Open(noKey); err == nil {
		o.Close()
		t.Fatal("opened an encrypted outbox without its key")
	}
	o := openT(t, enc)
	evs, err := o.Pending(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].CustomerID != secret {
		t.Fatalf("pending after reopen with the key: %+v", evs)
	}
}

// Appended wakes a reader once new events are visible to Pending, and not
// before: a refused append does not wake it.
func TestOutbox_AppendedSignalsVisibleEvents(t *testing.T) {
	o := openT(t, testConfig(t.TempDir()))
	ch := o.Appended()
	select {
	case <-ch:
		t.Fatal("signalled before any append")
	default:
	}
	if _, err := o.Append(context.Background(), protocol.ContactEvent{}); err == nil {
		t.Fatal("invalid event accepted")
	}
	select {
	case <-ch:
		t.Fatal("signalled by a refused append")
	default:
	}
	appendN(t, o, 0, 1)
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("not signalled after an append")
	}
	if got := pendingSeqs(t, o, 0); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("pending after the signal: %v", got)
	}
	next := o.Appended()
	if next == ch {
		t.Fatal("the same channel after a commit")
	}
	// A waiter that took the channel before Pending sees an append made in
	// between.
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := o.Appended()
		if evs, _ := o.Pending(1, 10); len(evs) > 0 {
			return
		}
		<-c
	}()
	appendN(t, o, 1, 1)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("waiter missed the append")
	}
}

// PendingBinary hands out the stored bytes with the sequence spliced in:
// they decode to exactly what Pending returns.
func TestOutbox_PendingBinaryMatchesPending(t *testing.T) {
	o := openT(t, testConfig(t.TempDir()))
	for i := 0; i < 5; i++ {
		if _, err := o.Append(context.Background(), protocol.ContactEvent{CustomerID: fmt.Sprintf("C<%d>&\"x\"", i), Channel: "kiosk",
			Type: protocol.ContactOffer, Outcome: protocol.OutcomePresented, Value: float64(i) / 3}); err != nil {
			t.Fatal(err)
		}
	}
	want, err := o.Pending(1, 3)
	if err != nil {
		t.Fatal(err)
	}
	n, raw, first, last, err := o.PendingBinary(1, 3)
	if err != nil || first != 2 || last != 4 || n != 3 {
		t.Fatalf("PendingBinary: %d events %d..%d, %v", n, first, last, err)
	}
	r := protocol.NewBinaryReader(raw)
	for i := 0; i < n; i++ {
		var got protocol.ContactEvent
		r.Event(&got)
		got.AgentID = "agent-1"
		if r.Err() != nil || !reflect.DeepEqual(got, want[i]) {
			t.Fatalf("event %d (%v):\n got %+v\nwant %+v", i, r.Err(), got, want[i])
		}
	}
	if r.Len() != 0 {
		t.Fatalf("%d bytes left over", r.Len())
	}
}

// An outbox written by an earlier version holds JSON values: they are still
// read, by Pending and by PendingBinary alike.
func TestOutbox_ReadsJSONValuesOfEarlierVersions(t *testing.T) {
	o := openT(t, testConfig(t.TempDir()))
	for i := 0; i < 2; i++ {
		if _, err := o.Append(context.Background(), protocol.ContactEvent{CustomerID: fmt.Sprintf("C%d", i), Channel: "kiosk",
			Type: protocol.ContactOffer, Outcome: protocol.OutcomeAccepted, OfferID: "retain-10"}); err != nil {
			t.Fatal(err)
		}
	}
	want, err := o.Pending(0, 10)
	if err != nil || len(want) != 2 {
		t.Fatalf("pending %v %v", want, err)
	}
	legacy := want[1]
	legacy.Seq = 0
	b, _ := json.Marshal(legacy)
	if err := o.db.Update(func(tx *badger.Txn) error { return tx.Set(eventKey(2), b) }); err != nil {
		t.Fatal(err)
	}
	got, err := o.Pending(0, 10)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Pending over a JSON value:\n got %+v\nwant %+v (%v)", got, want, err)
	}
	n, raw, _, _, err := o.PendingBinary(0, 10)
	if err != nil || n != 2 {
		t.Fatalf("PendingBinary: %d %v", n, err)
	}
	r := protocol.NewBinaryReader(raw)
	for i := range want {
		var e protocol.ContactEvent
		r.Event(&e)
		e.AgentID = want[i].AgentID
		if r.Err() != nil || !reflect.DeepEqual(e, want[i]) {
			t.Fatalf("PendingBinary event %d: %+v, want %+v (%v)", i, e, want[i], r.Err())
		}
	}
}

func TestOutbox_AppendAllStoresInOrderAndStopsAtTheFirstRefusal(t *testing.T) {
	o := openT(t, testConfig(t.TempDir()))
	evs := []protocol.ContactEvent{event(1), event(2), event(3)}
	got, err := o.AppendAll(context.Background(), evs)
	if err != nil || len(got) != 3 || got[0].Seq != 1 || got[2].Seq != 3 || got[1].CustomerID != evs[1].CustomerID {
		t.Fatalf("AppendAll: %+v, %v", got, err)
	}
	bad := event(5)
	bad.Outcome = "maybe"
	got, err = o.AppendAll(context.Background(), []protocol.ContactEvent{event(4), bad, event(6)})
	if err == nil || len(got) != 1 || got[0].Seq != 4 {
		t.Fatalf("a refused event: stored %+v, error %v; want the one before it and the error", got, err)
	}
	if seqs := pendingSeqs(t, o, 0); fmt.Sprint(seqs) != fmt.Sprint(seqRange(1, 4)) {
		t.Fatalf("pending %v, want 1–4 (the refused event took no sequence, the one after it was not queued)", seqs)
	}
}
