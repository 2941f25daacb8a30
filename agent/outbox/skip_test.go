package outbox

import (
	"context"
	"slices"
	"testing"
)

// An outbox that was lost or replaced numbers its events from 1 again,
// while the cluster holds this agent's events through, say, 10: SkipPast
// renumbers the waiting events after 10 (content, idempotency replays and
// the next append follow), keeps acknowledged ones gone, survives a
// restart, and does nothing when the cluster is not ahead.
func TestOutbox_SkipPastRenumbersTheWaitingEventsAfterTheClustersMark(t *testing.T) {
	o := openT(t, testConfig(t.TempDir()))
	ctx := context.Background()
	appendN(t, o, 1, 2) // 1, 2
	if err := o.Ack(1); err != nil {
		t.Fatal(err)
	}
	withKey, _, err := o.AppendIdempotent(ctx, event(3), idem("k-3", "body 3")) // 3
	if err != nil || withKey.Seq != 3 {
		t.Fatalf("append with a key: %+v %v", withKey, err)
	}
	if n, err := o.SkipPast(3); err != nil || n != 0 {
		t.Fatalf("SkipPast(3) with the outbox at 3: %d %v, want nothing done", n, err)
	}
	n, err := o.SkipPast(10)
	if err != nil || n != 2 {
		t.Fatalf("SkipPast(10): %d %v, want 2 moved", n, err)
	}
	st := o.Stats()
	if st.NextSeq != 13 || st.Acked != 10 || st.Backlog != 2 {
		t.Fatalf("stats after SkipPast: %+v", st)
	}
	evs, err := o.Pending(0, 10)
	if err != nil || len(evs) != 2 || evs[0].Seq != 11 || evs[1].Seq != 12 ||
		evs[0].CustomerID != event(2).CustomerID || evs[1].CustomerID != event(3).CustomerID {
		t.Fatalf("pending after SkipPast: %+v %v", evs, err)
	}
	if again, replayed, err := o.AppendIdempotent(ctx, event(3), idem("k-3", "body 3")); err != nil || !replayed || again.Seq != 12 {
		t.Fatalf("a retry of the keyed event: seq %d replayed %v %v, want 12", again.Seq, replayed, err)
	}
	if next := appendN(t, o, 4, 1); next[0].Seq != 13 {
		t.Fatalf("next append got %d, want 13", next[0].Seq)
	}
	o = reopen(t, o)
	if got := pendingSeqs(t, o, 0); !slices.Equal(got, []uint64{11, 12, 13}) {
		t.Fatalf("pending after a restart: %v", got)
	}
	if st := o.Stats(); st.NextSeq != 14 || st.Acked != 10 {
		t.Fatalf("stats after a restart: %+v", st)
	}
}

// A new outbox of an enrolled agent (its old one was lost) may assign as
// many numbers as were lost, or more, before its first session: the
// numbers alone cannot tell. It is unanchored, also across a restart,
// until the cluster's mark is known: then its events move after the mark
// even though the mark is not above its last sequence.
func TestOutbox_AReplacementOutboxIsRenumberedWhateverItsNumbers(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Enrolled = true
	o := openT(t, cfg)
	appendN(t, o, 1, 3) // 1, 2, 3: the cluster holds 1 and 2 of the lost outbox
	if !o.Stats().Unanchored {
		t.Fatal("a new outbox of an enrolled agent is anchored")
	}
	o = reopen(t, o)
	if !o.Stats().Unanchored {
		t.Fatal("unanchored lost in a restart")
	}
	if n, err := o.SkipPast(2); err != nil || n != 3 {
		t.Fatalf("SkipPast(2): %d %v, want 3 moved", n, err)
	}
	if got := pendingSeqs(t, o, 0); !slices.Equal(got, []uint64{3, 4, 5}) {
		t.Fatalf("pending %v, want 3-5", got)
	}
	o = reopen(t, o)
	if st := o.Stats(); st.Unanchored || st.NextSeq != 6 {
		t.Fatalf("after the renumbering and a restart: %+v", st)
	}
	if n, err := o.SkipPast(4); err != nil || n != 0 {
		t.Fatalf("an anchored outbox at 5 and the cluster at 4: %d %v", n, err)
	}

	// An outbox an enrolled agent opens again is not new: anchored.
	cfg.Enrolled = false
	o2 := openT(t, testConfig(t.TempDir()))
	if o2.Stats().Unanchored {
		t.Fatal("a first outbox is unanchored")
	}
}
