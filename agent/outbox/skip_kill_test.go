package outbox

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

const skipHelperDirEnv = "OUTBOX_SKIP_HELPER_DIR"

// TestSkipHelperProcess is not a test: TestOutbox_Kill9DuringSkipPast runs
// the test binary again with skipHelperDirEnv set. This function then fills
// a replacement outbox (unanchored: Enrolled), prints "skipping", renumbers
// it after sequence 1000, prints "skipped", and waits to be killed.
func TestSkipHelperProcess(t *testing.T) {
	dir := os.Getenv(skipHelperDirEnv)
	if dir == "" {
		t.Skip("helper process for TestOutbox_Kill9DuringSkipPast")
	}
	o, err := Open(Config{Dir: dir, AgentID: "agent-1", Enrolled: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	for i := range 500 {
		if _, _, err := o.AppendIdempotent(context.Background(), event(i), idem(fmt.Sprintf("k-%d", i), "b")); err != nil {
			fmt.Fprintln(os.Stderr, "append:", err)
			os.Exit(2)
		}
	}
	fmt.Fprintln(os.Stdout, "skipping")
	if _, err := o.SkipPast(1000); err != nil {
		fmt.Fprintln(os.Stderr, "skip:", err)
		os.Exit(2)
	}
	fmt.Fprintln(os.Stdout, "skipped")
	time.Sleep(30 * time.Second) // the parent kills us long before
	os.Exit(3)
}

// A kill -9 while a replacement outbox renumbers its events leaves it
// renumbered whole (1001..1500, anchored, its keys moved with them) or not
// at all (1..500, still unanchored, to be renumbered at the next session):
// never a mix, and never an anchored outbox whose numbers the cluster
// holds. Killed right after SkipPast returned, the renumbering is there.
func TestOutbox_Kill9DuringSkipPast(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, killAt := range []string{"skipping", "skipping", "skipping", "skipped"} {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestSkipHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), skipHelperDirEnv+"="+dir)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		for sc.Scan() && !strings.HasPrefix(sc.Text(), killAt) {
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()

		o, err := Open(Config{Dir: dir, AgentID: "agent-1", Enrolled: true})
		if err != nil {
			t.Fatalf("reopen after kill at %q: %v", killAt, err)
		}
		seqs := pendingSeqs(t, o, 0)
		st := o.Stats()
		renumbered := slices.Equal(seqs, seqRange(1001, 1500)) && !st.Unanchored && st.Acked == 1000
		untouched := slices.Equal(seqs, seqRange(1, 500)) && st.Unanchored && st.Acked == 0
		switch {
		case killAt == "skipped" && !renumbered:
			t.Fatalf("killed after SkipPast returned: %d events %v…, %+v", len(seqs), seqs[:min(3, len(seqs))], st)
		case !renumbered && !untouched:
			t.Fatalf("killed during SkipPast: neither whole nor untouched: %d events %v…, %+v", len(seqs), seqs[:min(3, len(seqs))], st)
		}
		if renumbered {
			if e, replayed, err := o.AppendIdempotent(context.Background(), event(7), idem("k-7", "b")); err != nil || !replayed || e.Seq != 1008 {
				t.Fatalf("a key after the renumbering: seq %d replayed %v %v, want 1008", e.Seq, replayed, err)
			}
		}
		t.Logf("killed at %q: renumbered %v", killAt, renumbered)
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
