package fsm_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
)

// These tests cover entries whose writes come near badger's transaction
// limits (about 10 MB and 100,000 writes with the 64 MiB memtable): a
// committed entry the FSM cannot apply stops every replica at that index.

// bulkApply is a catalogue apply of n plans, each carrying a description of
// size bytes.
func bulkApply(prefix string, n, size int) command {
	docs := make([]fsm.CatalogDoc, n)
	for i := range docs {
		id := fmt.Sprintf("%s-%05d", prefix, i)
		docs[i] = fsm.CatalogDoc{Kind: string(protocol.KindPlan), ID: id,
			Doc: mustJSON(protocol.Plan{Kind: protocol.KindPlan, ID: id, MonthlyFee: 1, Description: strings.Repeat("d", size)})}
	}
	return catalogApply(prefix, docs...)
}

func applyBatchNoPanic(t *testing.T, f *fsm.FSM, logs []*raft.Log) []any {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("ApplyBatch panicked: %.300v", r)
		}
	}()
	return f.ApplyBatch(logs)
}

func TestFSM_ApplyBatchOfLargeEntriesStaysWithinTransactionLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 10 MB through the FSM")
	}
	t.Parallel() // slow under the race detector
	// Each entry fits the limits on its own (the second is a 3 MB apply,
	// under the FSM's 3 MiB payload limit); together they do not fit one
	// transaction, which raft hands over in one batch when both commit
	// together or when a restarted node replays its log.
	first := logAt(t, 1, bulkApply("a", 450, 4300))
	second := logAt(t, 2, bulkApply("b", 1000, 3000))
	f := openFSM(t, fsm.Config{})
	for _, v := range applyBatchNoPanic(t, f, []*raft.Log{first, second}) {
		if r := asResult(t, v); r.Err != nil || r.Skipped {
			t.Errorf("entry %d: %+v", r.Index, r)
		}
	}
	plans, err := f.List(string(protocol.KindPlan))
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 1450 || f.Applied() != 2 {
		t.Errorf("stored %d plans, applied %d; want 1450 and 2", len(plans), f.Applied())
	}
}

// TestFSM_LongChangeFeedStaysWithinTransactionLimits: bulk imports can leave
// more change records than one transaction may delete (24 applies of 5,000
// documents make 120,000); neither a restore nor a prune may try to.
func TestFSM_LongChangeFeedStaysWithinTransactionLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 110,000 change records")
	}
	t.Parallel() // slow under the race detector
	const retention = 10
	const seeded = 110_000
	f := openFSM(t, fsm.Config{ChangeRetention: retention})
	applyOK(t, f, 1, initCluster("cl-1"))
	applyOK(t, f, 2, catalogApply("", plan("basic", 38)))
	if err := f.SeedChanges(2, seeded); err != nil {
		t.Fatal(err)
	}

	// A restore forces every reader to resynchronise.
	r := asResult(t, applyBatchNoPanic(t, f, []*raft.Log{logAt(t, 3, command{typ: fsm.CmdRestored, payload: fsm.Restored{}})})[0])
	if r.Err != nil {
		t.Fatalf("restored: %v", r.Err)
	}
	for _, after := range []uint64{0, 2} {
		feed, err := f.Changes(after, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !feed.Snapshot || feed.Epoch != 2 || len(feed.Objects) != 1 {
			t.Errorf("Changes(%d) = snapshot %v epoch %d with %d objects, want a snapshot at epoch 2 with 1", after, feed.Snapshot, feed.Epoch, len(feed.Objects))
		}
	}
	applyOK(t, f, 4, catalogApply("", plan("pro", 98)))
	feed, err := f.Changes(3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if feed.Snapshot || changeList(feed.Changes) != "4:put:pro" {
		t.Errorf("Changes(3) = snapshot %v changes %q, want only 4:put:pro", feed.Snapshot, changeList(feed.Changes))
	}

	// Entries up to the first prune, which drops everything before index
	// PruneEvery-retention.
	last := uint64(fsm.PruneEvery + 2)
	var logs []*raft.Log
	for i := uint64(5); i <= last; i++ {
		logs = append(logs, logAt(t, i, catalogApply("", plan("basic", float64(i)))))
	}
	for start := 0; start < len(logs); start += 64 {
		applyBatchNoPanic(t, f, logs[start:min(start+64, len(logs))])
	}
	if f.Applied() != last {
		t.Fatalf("applied = %d, want %d", f.Applied(), last)
	}
	floor := uint64(fsm.PruneEvery - retention)
	feed, err = f.Changes(floor-1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !feed.Snapshot {
		t.Errorf("Changes(%d) below the floor is not a snapshot", floor-1)
	}
	feed, err = f.Changes(floor, 0)
	if err != nil {
		t.Fatal(err)
	}
	if feed.Snapshot || len(feed.Changes) != int(last-floor) || feed.Changes[0].Index != floor+1 {
		t.Errorf("Changes(%d) = snapshot %v, %d changes, want %d from %d", floor, feed.Snapshot, len(feed.Changes), last-floor, floor+1)
	}
	// The prune made progress on the records below the floor, oldest first.
	idx, seq, ok, err := f.OldestChange()
	if err != nil {
		t.Fatal(err)
	}
	if !ok || idx != 2 || seq == 0 {
		t.Errorf("oldest change record is %d/%d (found %v); want a later one at index 2 after the prune", idx, seq, ok)
	}
}

func TestFSM_PruneKeepsTheFloorOfARestore(t *testing.T) {
	const retention = 10
	f := openFSM(t, fsm.Config{ChangeRetention: retention})
	restoredAt := uint64(fsm.PruneEvery - 4) // the next prune's floor is below it
	var logs []*raft.Log
	for i := uint64(1); i < restoredAt; i++ {
		logs = append(logs, logAt(t, i, catalogApply("", offer(fmt.Sprintf("o%d", i%7), float64(i)))))
	}
	logs = append(logs, logAt(t, restoredAt, command{typ: fsm.CmdRestored, payload: fsm.Restored{}}))
	last := uint64(fsm.PruneEvery + 5)
	for i := restoredAt + 1; i <= last; i++ {
		logs = append(logs, logAt(t, i, catalogApply("", offer("after-restore", float64(i)))))
	}
	for start := 0; start < len(logs); start += 64 {
		applyBatchNoPanic(t, f, logs[start:min(start+64, len(logs))])
	}

	// A reader that last saw the state before the restore must still be
	// sent a full snapshot after the prune: the changes it would need are
	// gone.
	for _, after := range []uint64{restoredAt - 5, restoredAt - 1} {
		feed, err := f.Changes(after, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !feed.Snapshot {
			t.Errorf("Changes(%d) after the restore at %d and the prune at %d = %d changes (%s), want a snapshot",
				after, restoredAt, fsm.PruneEvery, len(feed.Changes), changeList(feed.Changes))
		}
	}
	feed, err := f.Changes(restoredAt, 0)
	if err != nil {
		t.Fatal(err)
	}
	if feed.Snapshot || len(feed.Changes) != int(last-restoredAt) {
		t.Errorf("Changes(%d) = snapshot %v with %d changes, want %d changes", restoredAt, feed.Snapshot, len(feed.Changes), last-restoredAt)
	}
}
