package fsm_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func TestFSM_AppliesRequestIDOnce(t *testing.T) {
	tests := []struct {
		name  string
		first command
		again command // same request id, possibly different content
	}{
		{"catalogue apply", catalogApply("req-1", offer("retain-10", 60)), catalogApply("req-1", offer("retain-10", 60))},
		{"retry carrying different content", catalogApply("req-1", offer("retain-10", 60)), catalogApply("req-1", offer("retain-10", 99))},
		{"failed delete keeps its error", catalogDelete("req-1", protocol.KindOffer, "nope"), catalogDelete("req-1", protocol.KindOffer, "nope")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := openFSM(t, fsm.Config{})
			first := apply(t, f, 1, tt.first)
			if first.Duplicate || first.Index != 1 {
				t.Fatalf("first application: %+v", first)
			}
			before := readState(t, f)

			again := apply(t, f, 2, tt.again)
			if !again.Duplicate {
				t.Fatalf("second application of req-1 is not marked duplicate: %+v", again)
			}
			if again.Index != 1 {
				t.Errorf("duplicate index = %d, want the first application's 1", again.Index)
			}
			if string(again.Data) != string(first.Data) || fmt.Sprint(again.Err) != fmt.Sprint(first.Err) {
				t.Errorf("duplicate answers data=%s err=%v, want data=%s err=%v", again.Data, again.Err, first.Data, first.Err)
			}
			// The entry's index is recorded, nothing else changes.
			if f.Applied() != 2 {
				t.Errorf("applied = %d, want 2", f.Applied())
			}
			after := readState(t, f)
			after.Applied = before.Applied
			assertSameState(t, after, before)

			// Another request id is applied normally.
			other := apply(t, f, 3, tt.again)
			other2 := apply(t, f, 4, command{typ: tt.again.typ, rid: "req-2", payload: tt.again.payload})
			if !other.Duplicate || other2.Duplicate || other2.Index != 4 {
				t.Errorf("third (req-1) duplicate=%v, fourth (req-2) duplicate=%v index=%d", other.Duplicate, other2.Duplicate, other2.Index)
			}
		})
	}
}

func TestFSM_DuplicateWithinOneBatchIsAppliedOnce(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	c := catalogApply("req-1", offer("retain-10", 60))
	out := f.ApplyBatch([]*raft.Log{logAt(t, 1, c), logAt(t, 2, c)})
	first, second := asResult(t, out[0]), asResult(t, out[1])
	if first.Duplicate || !second.Duplicate || second.Index != 1 {
		t.Fatalf("batch results: first %+v, second %+v", first, second)
	}
	feed, err := f.Changes(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(feed.Changes) != 1 {
		t.Errorf("change feed holds %d changes, want 1", len(feed.Changes))
	}
}

// history is a run of entries touching every family of state.
func history() []command {
	return []command{
		initCluster("cl-test"),
		catalogApply("req-1", offer("retain-10", 60), plan("basic", 38)),
		{typ: fsm.CmdTokenCreate, rid: "req-2", payload: fsm.TokenCreate{TokenID: "tok-2", TokenHash: strings.Repeat("ab", 32), Role: api.RoleAnalyst, Name: "ana"}},
		{typ: fsm.CmdNodeRegister, payload: fsm.NodeRegister{ID: "cp1", RaftAddr: "10.0.0.1:7000", HTTPAddr: "10.0.0.1:8443"}},
		catalogApply("req-3", campaign("winback", "retain-10"), plan("basic", 48)),
		catalogDelete("req-4", protocol.KindCampaign, "winback"),
		{typ: fsm.CmdNodeRegister, payload: fsm.NodeRegister{ID: "cp2", RaftAddr: "10.0.0.2:7000", HTTPAddr: "10.0.0.2:8443"}},
		{typ: fsm.CmdNodeRemove, payload: fsm.NodeRemove{ID: "cp2"}},
	}
}

func TestFSM_RestartSkipsReplayedEntries(t *testing.T) {
	dir := t.TempDir()
	cmds := history()
	n := uint64(len(cmds))

	f, err := fsm.Open(fsm.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	applyAll(t, f, 1, cmds...)
	want := readState(t, f)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	f = openFSM(t, fsm.Config{Dir: dir})
	if f.Applied() != n {
		t.Fatalf("applied after reopen = %d, want %d", f.Applied(), n)
	}
	assertSameState(t, readState(t, f), want)

	// Raft replays the log from its last snapshot: one entry at a time and
	// as a batch, including an entry whose content differs from what was
	// applied at that index (the index alone decides).
	for i, c := range cmds {
		idx := uint64(i + 1)
		if r := apply(t, f, idx, c); !r.Skipped || r.Index != idx {
			t.Errorf("replayed entry %d: %+v, want skipped", idx, r)
		}
	}
	var batch []*raft.Log
	for i, c := range cmds {
		batch = append(batch, logAt(t, uint64(i+1), c))
	}
	batch = append(batch, logAt(t, n, catalogApply("other", offer("sneaky", 1))))
	for i, v := range f.ApplyBatch(batch) {
		if r := asResult(t, v); !r.Skipped {
			t.Errorf("replayed batch entry %d: %+v, want skipped", i, r)
		}
	}
	assertSameState(t, readState(t, f), want)

	// The next entry applies.
	r := applyOK(t, f, n+1, catalogApply("req-5", offer("upsell-5g", 20)))
	if r.Skipped {
		t.Fatalf("entry %d skipped", n+1)
	}
	if _, ok := getObject(t, f, protocol.KindOffer, "upsell-5g"); !ok || f.Applied() != n+1 {
		t.Errorf("after entry %d: stored=%v applied=%d", n+1, ok, f.Applied())
	}
	// The request ids of before the restart are still remembered.
	if r := apply(t, f, n+2, catalogApply("req-1", offer("retain-10", 1))); !r.Duplicate || r.Index != 2 {
		t.Errorf("req-1 after restart: %+v, want duplicate of index 2", r)
	}
}

func TestFSM_ApplyBatchSkipsNonCommandEntries(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	out := f.ApplyBatch([]*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogNoop},
		logAt(t, 2, catalogApply("", offer("retain-10", 60))),
		{Index: 3, Term: 1, Type: raft.LogConfiguration, Data: []byte("not a command")},
	})
	if r := asResult(t, out[0]); !r.Skipped {
		t.Errorf("noop entry: %+v, want skipped", r)
	}
	if r := asResult(t, out[1]); r.Skipped || r.Err != nil || r.Index != 2 {
		t.Errorf("command entry: %+v", r)
	}
	if r := asResult(t, out[2]); !r.Skipped {
		t.Errorf("configuration entry: %+v, want skipped", r)
	}
	if f.Applied() != 2 {
		t.Errorf("applied = %d, want 2", f.Applied())
	}
}

func TestFSM_UnknownCommandType(t *testing.T) {
	unknown := fsm.CommandType(999)

	t.Run("ignorable is skipped", func(t *testing.T) {
		f := openFSM(t, fsm.Config{})
		applyOK(t, f, 1, catalogApply("", offer("retain-10", 60)))
		before := readState(t, f)
		r := apply(t, f, 2, command{typ: unknown, flags: fsm.FlagIgnorable, payload: map[string]int{"future": 1}})
		if r.Err != nil || r.Skipped || r.Index != 2 {
			t.Fatalf("ignorable unknown command: %+v", r)
		}
		if f.Applied() != 2 {
			t.Errorf("applied = %d, want 2", f.Applied())
		}
		after := readState(t, f)
		after.Applied = before.Applied
		assertSameState(t, after, before)
	})

	t.Run("not ignorable stops the node", func(t *testing.T) {
		f := openFSM(t, fsm.Config{})
		applyOK(t, f, 1, catalogApply("", offer("retain-10", 60)))
		var recovered any
		func() {
			defer func() { recovered = recover() }()
			f.Apply(logAt(t, 2, command{typ: unknown, payload: map[string]int{"future": 1}}))
		}()
		if recovered == nil {
			t.Fatal("Apply of an unknown command without the ignorable flag did not panic")
		}
		if msg := fmt.Sprint(recovered); !strings.Contains(msg, "unknown command type 999") {
			t.Errorf("panic %q does not name the command type", msg)
		}
		if f.Applied() != 1 {
			t.Errorf("applied = %d after the refused entry, want 1", f.Applied())
		}
		// The state is still readable.
		if _, ok := getObject(t, f, protocol.KindOffer, "retain-10"); !ok {
			t.Error("offer unreadable after the panic")
		}
	})

	t.Run("undecodable entry stops the node", func(t *testing.T) {
		f := openFSM(t, fsm.Config{})
		var recovered any
		func() {
			defer func() { recovered = recover() }()
			f.Apply(&raft.Log{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("garbage")})
		}()
		if recovered == nil {
			t.Fatal("Apply of an undecodable entry did not panic")
		}
		if f.Applied() != 0 {
			t.Errorf("applied = %d, want 0", f.Applied())
		}
	})
}
