package fsm_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
)

// bufferSink is a raft.SnapshotSink that keeps the snapshot in memory.
type bufferSink struct {
	bytes.Buffer
	failWrite bool
	closed    bool
	cancelled bool
}

var _ raft.SnapshotSink = (*bufferSink)(nil)

func (s *bufferSink) Write(p []byte) (int, error) {
	if s.failWrite {
		return 0, errors.New("disk full")
	}
	return s.Buffer.Write(p)
}

func (s *bufferSink) ID() string { return "test-snapshot" }

func (s *bufferSink) Close() error {
	s.closed = true
	return nil
}

func (s *bufferSink) Cancel() error {
	s.cancelled = true
	return nil
}

// persist takes a snapshot the way raft does and returns the stream.
func persist(t *testing.T, f *fsm.FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	defer snap.Release()
	return persistSnapshot(t, snap)
}

func persistSnapshot(t *testing.T, snap raft.FSMSnapshot) []byte {
	t.Helper()
	sink := &bufferSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatalf("persist: %v", err)
	}
	if !sink.closed || sink.cancelled {
		t.Fatalf("persist left the sink closed=%v cancelled=%v, want closed", sink.closed, sink.cancelled)
	}
	return sink.Bytes()
}

func restore(f *fsm.FSM, b []byte) error {
	return f.Restore(io.NopCloser(bytes.NewReader(b)))
}

// generations lists the state-N directories in dir.
func generations(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "state-") {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out
}

func current(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "CURRENT"))
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestFSM_SnapshotRestoreRoundTrip(t *testing.T) {
	src := openFSM(t, fsm.Config{})
	n := applyAll(t, src, 1, history()...)
	want := readState(t, src)
	stream := persist(t, src)
	if err := fsm.VerifySnapshot(bytes.NewReader(stream)); err != nil {
		t.Fatalf("verify a good snapshot: %v", err)
	}

	dir := t.TempDir()
	dst := openFSM(t, fsm.Config{Dir: dir})
	dst.Started()
	if err := restore(dst, stream); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if dst.Applied() != n {
		t.Errorf("applied after restore = %d, want %d", dst.Applied(), n)
	}
	assertSameState(t, readState(t, dst), want)

	// The restored state behaves like the original: old entries are
	// skipped, request ids are remembered, new entries apply.
	if r := apply(t, dst, n, catalogApply("", offer("sneaky", 1))); !r.Skipped {
		t.Errorf("entry %d after restore: %+v, want skipped", n, r)
	}
	if r := apply(t, dst, n+1, catalogApply("req-1", offer("retain-10", 1))); !r.Duplicate || r.Index != 2 {
		t.Errorf("req-1 after restore: %+v, want duplicate of index 2", r)
	}
	applyOK(t, dst, n+2, catalogApply("", offer("upsell-5g", 20)))
	if _, ok := getObject(t, dst, protocol.KindOffer, "upsell-5g"); !ok {
		t.Error("entry after restore not applied")
	}

	// Never in place: the restore went into a new generation and the old
	// one is gone.
	if got := current(t, dir); got != "2" {
		t.Errorf("CURRENT = %q, want 2", got)
	}
	if got := generations(t, dir); !slices.Equal(got, []string{"state-2"}) {
		t.Errorf("state directories = %v, want [state-2]", got)
	}
	// A second restore moves on again.
	if err := restore(dst, stream); err != nil {
		t.Fatalf("second restore: %v", err)
	}
	if got, gens := current(t, dir), generations(t, dir); got != "3" || !slices.Equal(gens, []string{"state-3"}) {
		t.Errorf("after a second restore CURRENT = %q, directories %v; want 3, [state-3]", got, gens)
	}
	assertSameState(t, readState(t, dst), want)
}

func TestFSM_RestoredStateSurvivesReopen(t *testing.T) {
	src := openFSM(t, fsm.Config{})
	applyAll(t, src, 1, history()...)
	want := readState(t, src)
	stream := persist(t, src)

	dir := t.TempDir()
	dst, err := fsm.Open(fsm.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// The node had state of its own before the restore.
	applyAll(t, dst, 1, catalogApply("", offer("local-only", 1)))
	dst.Started()
	if err := restore(dst, stream); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	if got := current(t, dir); got != "2" {
		t.Errorf("CURRENT = %q, want 2", got)
	}
	if got := generations(t, dir); !slices.Equal(got, []string{"state-2"}) {
		t.Errorf("state directories = %v, want [state-2]", got)
	}

	reopened := openFSM(t, fsm.Config{Dir: dir})
	assertSameState(t, readState(t, reopened), want)
	if _, ok := getObject(t, reopened, protocol.KindOffer, "local-only"); ok {
		t.Error("state from before the restore came back after reopen")
	}
}

func TestFSM_RestoreOnStartup(t *testing.T) {
	// The snapshot holds entries 1..3 of history; the node's own state is
	// something else at some applied index.
	src := openFSM(t, fsm.Config{})
	applyAll(t, src, 1, history()[:3]...)
	snapState := readState(t, src)
	stream := persist(t, src)

	tests := []struct {
		name         string
		ownEntries   int  // entries the node applied before the restore
		started      bool // raft has finished starting
		wantRestored bool
	}{
		{"startup, own state newer", 5, false, false},
		{"startup, own state at the same index", 3, false, false},
		{"startup, own state older", 2, false, true},
		{"startup, empty node", 0, false, true},
		{"after start, own state newer", 5, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			f := openFSM(t, fsm.Config{Dir: dir})
			for i := 1; i <= tt.ownEntries; i++ {
				applyOK(t, f, uint64(i), catalogApply("", offer("own", float64(i))))
			}
			if tt.started {
				f.Started()
			}
			before := readState(t, f)
			if err := restore(f, stream); err != nil {
				t.Fatalf("restore: %v", err)
			}
			if tt.wantRestored {
				assertSameState(t, readState(t, f), snapState)
				if got := current(t, dir); got != "2" {
					t.Errorf("CURRENT = %q, want 2", got)
				}
				return
			}
			assertSameState(t, readState(t, f), before)
			if got, gens := current(t, dir), generations(t, dir); got != "" || !slices.Equal(gens, []string{"state-1"}) {
				t.Errorf("skipped restore left CURRENT = %q, directories %v", got, gens)
			}
		})
	}
}

func TestFSM_RestoreRefusesCorruptSnapshot(t *testing.T) {
	src := openFSM(t, fsm.Config{})
	applyAll(t, src, 1, history()...)
	good := persist(t, src)

	tests := []struct {
		name    string
		corrupt func(b []byte) []byte
	}{
		{"byte flipped in the middle", func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b }},
		{"byte flipped in the checksum", func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }},
		{"truncated to half", func(b []byte) []byte { return b[:len(b)/2] }},
		{"last byte missing", func(b []byte) []byte { return b[:len(b)-1] }},
		{"checksum missing", func(b []byte) []byte { return b[:len(b)-4] }},
		{"trailing record after the end marker", func(b []byte) []byte {
			return append(b[:len(b)-5:len(b)-5], 1, 'k', 1, 'v', 0, 0, 0, 0, 0)
		}},
		{"bad magic", func(b []byte) []byte { b[0] = 'X'; return b }},
		{"empty", func([]byte) []byte { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := tt.corrupt(bytes.Clone(good))
			if err := fsm.VerifySnapshot(bytes.NewReader(bad)); err == nil {
				t.Error("VerifySnapshot accepted a corrupt snapshot")
			}

			dir := t.TempDir()
			f := openFSM(t, fsm.Config{Dir: dir})
			applyAll(t, f, 1, catalogApply("", offer("own", 1)), catalogApply("", plan("own-plan", 2)))
			f.Started()
			before := readState(t, f)
			if err := restore(f, bad); err == nil {
				t.Fatal("Restore accepted a corrupt snapshot")
			}
			assertSameState(t, readState(t, f), before)
			if got, gens := current(t, dir), generations(t, dir); got != "" || !slices.Equal(gens, []string{"state-1"}) {
				t.Errorf("failed restore left CURRENT = %q, directories %v; want no CURRENT and [state-1]", got, gens)
			}
			// The node keeps working, and a good snapshot still restores.
			applyOK(t, f, 3, catalogApply("", offer("after", 3)))
			if err := restore(f, good); err != nil {
				t.Fatalf("restore of the good snapshot after a bad one: %v", err)
			}
			if f.Applied() != uint64(len(history())) {
				t.Errorf("applied = %d after restoring the good snapshot", f.Applied())
			}
		})
	}
}

// A snapshot cut short (a copy that stopped, head -c) is refused as
// truncated, saying after how many bytes the file ends and in which part,
// by record number and the printable start of its key: keys hold binary
// sequence numbers, which the message must not dump.
func TestFSM_TruncatedSnapshotSaysWhereItEnds(t *testing.T) {
	src := openFSM(t, fsm.Config{})
	applyAll(t, src, 1, history()...)
	good := persist(t, src)

	binaryKey := false
	for n := len("TPSNAP01") + 1; n < len(good); n++ {
		err := fsm.VerifySnapshot(bytes.NewReader(good[:n]))
		if err == nil {
			t.Fatalf("cut after %d of %d bytes: accepted", n, len(good))
		}
		msg := err.Error()
		if want := fmt.Sprintf("snapshot is truncated: the file ends after %d bytes, ", n); !strings.HasPrefix(msg, want) {
			t.Fatalf("cut after %d bytes: %q, want it to start with %q", n, msg, want)
		}
		where := strings.TrimPrefix(msg, fmt.Sprintf("snapshot is truncated: the file ends after %d bytes, ", n))
		if !regexp.MustCompile(`^(inside the header|inside record \d+( \(key "[ -~]+"…?\))?|after record \d+, before the end marker|(inside|before) the checksum)$`).MatchString(where) {
			t.Fatalf("cut after %d bytes: %q does not say where", n, msg)
		}
		if strings.Contains(where, `(key "a/"…)`) {
			binaryKey = true // an audit record: "a/", then a binary index
		}
	}
	if !binaryKey {
		t.Error("no cut fell inside an audit record, whose key is binary after \"a/\"")
	}
}

func TestFSM_SnapshotIsTheStateWhenTaken(t *testing.T) {
	src := openFSM(t, fsm.Config{})
	applyAll(t, src, 1, history()...)
	want := readState(t, src)

	snap, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Raft keeps applying while the snapshot is written out.
	n := uint64(len(history()))
	applyAll(t, src, n+1,
		catalogApply("", offer("upsell-5g", 20), plan("basic", 58)),
		catalogDelete("", protocol.KindOffer, "retain-10"),
		command{typ: fsm.CmdRestored, payload: fsm.Restored{}})
	if src.Applied() != n+3 {
		t.Fatalf("applied = %d", src.Applied())
	}
	stream := persistSnapshot(t, snap)
	snap.Release()
	snap.Release() // raft may release twice; the second is a no-op

	dst := openFSM(t, fsm.Config{})
	dst.Started()
	if err := restore(dst, stream); err != nil {
		t.Fatal(err)
	}
	assertSameState(t, readState(t, dst), want)
}

func TestFSM_PersistCancelsSinkOnWriteError(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyAll(t, f, 1, history()...)
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	sink := &bufferSink{failWrite: true}
	if err := snap.Persist(sink); err == nil {
		t.Fatal("Persist succeeded into a failing sink")
	}
	if !sink.cancelled || sink.closed {
		t.Errorf("sink cancelled=%v closed=%v, want cancelled only", sink.cancelled, sink.closed)
	}
}

// TestFSM_ApplyIsDeterministic applies the same entries to two state machines
// (one entry at a time, and in uneven batches) and requires byte-identical
// snapshots: every replica must reach exactly the same state.
func TestFSM_ApplyIsDeterministic(t *testing.T) {
	cmds := append(history(),
		catalogApply("req-5", offer("upsell-5g", 20), campaign("spring", "upsell-5g", "retain-10")),
		catalogApply("req-5", offer("dup", 1)), // duplicate
		catalogApply("", campaign("bad", "missing")),
		command{typ: fsm.CommandType(999), flags: fsm.FlagIgnorable, payload: "future"},
		command{typ: fsm.CmdRestored, payload: fsm.Restored{}},
		catalogApply("", tariffOffer("move-to-pro", "pro"), plan("pro", 98)),
	)
	one := openFSM(t, fsm.Config{})
	for i, c := range cmds {
		apply(t, one, uint64(i+1), c)
	}
	if one.Applied() != uint64(len(cmds)) {
		t.Fatalf("applied = %d, want %d", one.Applied(), len(cmds))
	}

	other := openFSM(t, fsm.Config{})
	var logs []*raft.Log
	for i, c := range cmds {
		logs = append(logs, logAt(t, uint64(i+1), c))
	}
	for _, batch := range [][]*raft.Log{logs[:1], logs[1:6], logs[6:7], logs[7:]} {
		other.ApplyBatch(batch)
	}

	var a, b bytes.Buffer
	if err := one.WriteSnapshot(&a); err != nil {
		t.Fatal(err)
	}
	if err := other.WriteSnapshot(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatalf("snapshots of the same log differ (%d and %d bytes)", a.Len(), b.Len())
	}
	// WriteSnapshot and Persist write the same stream.
	if p := persist(t, one); !bytes.Equal(p, a.Bytes()) {
		t.Errorf("Persist wrote %d bytes, WriteSnapshot %d, streams differ", len(p), a.Len())
	}
}
