package controlplane

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fakeConfigs is a test double for the store's InConfiguration: each call
// returns the next of its answers (the last one repeats).
type fakeConfigs struct {
	answers [][2]bool // {in, known}
	calls   int
}

func (f *fakeConfigs) next() (in, known bool, err error) {
	a := f.answers[min(f.calls, len(f.answers)-1)]
	f.calls++
	return a[0], a[1], nil
}

// TestCheckMember_OnlyAConfigurationThatListedTheNodeBeforeMeansRemoval:
// a node catching up after its join replays the log's configurations from
// before it was added, which do not list it (make test caught the first
// version of the watch stopping such a node). Only after its configuration
// has listed it, in this run or an earlier one (raft-member), does one
// without it mean that the cluster removed it.
func TestCheckMember_OnlyAConfigurationThatListedTheNodeBeforeMeansRemoval(t *testing.T) {
	dir := t.TempDir()
	const (
		empty    = 0 // no configuration yet: the leader has not reached the node
		catching = 1 // a configuration from before the node was added
		listed   = 2
		removed  = 3
	)
	answer := map[int][2]bool{empty: {false, false}, catching: {false, true}, listed: {true, true}, removed: {false, true}}
	run := func(steps ...int) (*Server, []error) {
		f := &fakeConfigs{}
		for _, st := range steps {
			f.answers = append(f.answers, answer[st])
		}
		s := &Server{cfg: Config{ID: "n2", DataDir: dir}, inConfig: f.next}
		var errs []error
		for range steps {
			errs = append(errs, s.checkMember())
		}
		return s, errs
	}
	_, errs := run(empty, catching, catching, listed, listed, removed)
	for i, err := range errs[:5] {
		if err != nil {
			t.Fatalf("step %d (joining, catching up, then listed): %v", i, err)
		}
	}
	if !errors.Is(errs[5], ErrRemoved) {
		t.Fatalf("listed, then not: %v, want ErrRemoved", errs[5])
	}
	if _, err := os.Stat(filepath.Join(dir, memberFile)); err != nil {
		t.Fatalf("the node saw itself listed but wrote no %s: %v", memberFile, err)
	}
	// Restarted: the log's latest configuration leaves it out, and the
	// directory says it was listed before.
	if _, errs := run(removed); !errors.Is(errs[0], ErrRemoved) {
		t.Fatalf("restarted after removal: %v, want ErrRemoved", errs[0])
	}
	// A directory without the file (a node from before it, or one that
	// never got listed) is not taken for removed by its own log.
	if err := os.Remove(filepath.Join(dir, memberFile)); err != nil {
		t.Fatal(err)
	}
	if _, errs := run(catching, catching); errs[0] != nil || errs[1] != nil {
		t.Fatalf("never listed: %v", errs)
	}
}
