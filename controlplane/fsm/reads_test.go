package fsm_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func changeList(cs []api.Change) string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%d:%s:%s", c.Index, c.Op, c.ID))
	}
	return strings.Join(out, " ")
}

func TestFSM_ChangesAfterIndex(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyAll(t, f, 1,
		catalogApply("", offer("o1", 1), offer("o2", 2)), // 1: two changes
		catalogApply("", offer("o3", 3)),                 // 2
		catalogDelete("", protocol.KindOffer, "o2"),      // 3
		initCluster("cl-1"),                              // 4: no catalogue change
		catalogApply("", offer("o1", 10)),                // 5
	)
	tests := []struct {
		after     uint64
		limit     int
		want      string
		wantIndex uint64
	}{
		{0, 0, "1:put:o1 1:put:o2 2:put:o3 3:delete:o2 5:put:o1", 5},
		{1, 0, "2:put:o3 3:delete:o2 5:put:o1", 5},
		{3, 0, "5:put:o1", 5},
		{4, 0, "5:put:o1", 5},
		{5, 0, "", 5},
		// A limit never splits one entry's changes.
		{0, 1, "1:put:o1 1:put:o2", 1},
		{0, 2, "1:put:o1 1:put:o2", 1},
		{0, 3, "1:put:o1 1:put:o2 2:put:o3", 2},
		{1, 1, "2:put:o3", 2},
		{2, 2, "3:delete:o2 5:put:o1", 5},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("after %d limit %d", tt.after, tt.limit), func(t *testing.T) {
			feed, err := f.Changes(tt.after, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if feed.Snapshot {
				t.Fatalf("got a snapshot, want changes")
			}
			if got := changeList(feed.Changes); got != tt.want {
				t.Errorf("changes = %q, want %q", got, tt.want)
			}
			if feed.Index != tt.wantIndex {
				t.Errorf("index = %d, want %d", feed.Index, tt.wantIndex)
			}
			if feed.ClusterID != "cl-1" || feed.Epoch != 1 {
				t.Errorf("cluster %q epoch %d", feed.ClusterID, feed.Epoch)
			}
		})
	}

	// A reader whose index is ahead of the state follows something else:
	// it gets the whole catalogue.
	feed, err := f.Changes(6, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !feed.Snapshot || feed.Index != 5 || len(feed.Changes) != 0 {
		t.Fatalf("Changes(6) = %+v, want a snapshot at 5", feed)
	}
	var objs []string
	for _, o := range feed.Objects {
		objs = append(objs, fmt.Sprintf("%s/%s@%d", o.Kind, o.ID, o.Index))
	}
	if got := strings.Join(objs, " "); got != "Offer/o1@5 Offer/o3@2" {
		t.Errorf("snapshot objects = %q", got)
	}
}

func TestFSM_ChangeFeedRetention(t *testing.T) {
	const retention = 10
	f := openFSM(t, fsm.Config{ChangeRetention: retention, RequestRetention: retention})
	last := uint64(fsm.PruneEvery + 76)
	var logs []*raft.Log
	for i := uint64(1); i <= last; i++ {
		rid := fmt.Sprintf("req-%d", i)
		logs = append(logs, logAt(t, i, catalogApply(rid, offer(fmt.Sprintf("o%02d", i%20), float64(i)))))
	}
	for start := 0; start < len(logs); start += 100 {
		for _, v := range f.ApplyBatch(logs[start:min(start+100, len(logs))]) {
			if r := asResult(t, v); r.Err != nil || r.Skipped || r.Duplicate {
				t.Fatalf("apply %d: %+v", r.Index, r)
			}
		}
	}
	floor := uint64(fsm.PruneEvery - retention)

	list, err := f.List(string(protocol.KindOffer))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		after        uint64
		wantSnapshot bool
		wantFirst    uint64
	}{
		{"from the start", 0, true, 0},
		{"older than the floor", floor - 1, true, 0},
		{"at the floor", floor, false, floor + 1},
		{"recent", last - 5, false, last - 4},
		{"ahead of the state", last + 1, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feed, err := f.Changes(tt.after, 0)
			if err != nil {
				t.Fatal(err)
			}
			if feed.Snapshot != tt.wantSnapshot || feed.Index != last {
				t.Fatalf("Changes(%d): snapshot=%v index=%d, want snapshot=%v index=%d", tt.after, feed.Snapshot, feed.Index, tt.wantSnapshot, last)
			}
			if tt.wantSnapshot {
				if len(feed.Objects) != len(list) || len(list) != 20 {
					t.Fatalf("snapshot has %d objects, List %d, want 20", len(feed.Objects), len(list))
				}
				for i := range list {
					if feed.Objects[i].ID != list[i].ID || feed.Objects[i].Index != list[i].Index || string(feed.Objects[i].Doc) != string(list[i].Doc) {
						t.Errorf("snapshot object %d = %s@%d, List has %s@%d", i, feed.Objects[i].ID, feed.Objects[i].Index, list[i].ID, list[i].Index)
					}
				}
				return
			}
			if n := uint64(len(feed.Changes)); n != last-tt.after || feed.Changes[0].Index != tt.wantFirst {
				t.Errorf("Changes(%d) returned %d changes starting at %d, want %d starting at %d",
					tt.after, n, feed.Changes[0].Index, last-tt.after, tt.wantFirst)
			}
		})
	}

	// Request ids are forgotten after RequestRetention, at the same prune.
	if r := apply(t, f, last+1, catalogApply("req-1", offer("o01", 1))); r.Duplicate {
		t.Errorf("req-1 is still remembered beyond the retention: %+v", r)
	}
	if r := apply(t, f, last+2, catalogApply(fmt.Sprintf("req-%d", last), offer("o01", 1))); !r.Duplicate || r.Index != last {
		t.Errorf("req-%d is forgotten within the retention: %+v", last, r)
	}
}

func TestFSM_WaitApplied(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	changed := f.Changed()
	done := make(chan error, 1)
	go func() { done <- f.WaitApplied(context.Background(), 2) }()

	applyOK(t, f, 1, catalogApply("", offer("o1", 1)))
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("Changed channel not closed by an apply")
	}
	select {
	case err := <-done:
		t.Fatalf("WaitApplied(2) returned %v at index 1", err)
	case <-time.After(20 * time.Millisecond):
	}
	applyOK(t, f, 2, catalogApply("", offer("o2", 2)))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("WaitApplied: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitApplied(2) did not return after index 2")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.WaitApplied(ctx, 3); err == nil {
		t.Error("WaitApplied with a cancelled context returned nil")
	}
}

func TestFSM_AuditNewestFirstLimit(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyAll(t, f, 1,
		catalogApply("", offer("o1", 1), offer("o2", 2)),
		catalogApply("", offer("o3", 3)),
		catalogDelete("", protocol.KindOffer, "o1"))
	tests := []struct {
		limit int
		want  string
	}{
		{0, "1:catalog.apply:2 documents 2:catalog.created:Offer/o3 3:catalog.delete:Offer/o1"},
		{1, "3:catalog.delete:Offer/o1"},
		{2, "2:catalog.created:Offer/o3 3:catalog.delete:Offer/o1"},
		{10, "1:catalog.apply:2 documents 2:catalog.created:Offer/o3 3:catalog.delete:Offer/o1"},
	}
	for _, tt := range tests {
		audit, err := f.Audit(tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range audit {
			got = append(got, fmt.Sprintf("%d:%s:%s", a.Index, a.Action, a.Target))
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("Audit(%d) = %q, want %q", tt.limit, g, tt.want)
		}
	}
}

func TestFSM_ReadsFailAfterClose(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, catalogApply("", offer("o1", 1)))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Get(string(protocol.KindOffer), "o1"); err == nil {
		t.Error("Get after Close returned no error")
	}
	if _, err := f.Snapshot(); err == nil {
		t.Error("Snapshot after Close returned no error")
	}
}
