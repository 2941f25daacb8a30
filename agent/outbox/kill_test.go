package outbox

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol"
)

const helperDirEnv = "OUTBOX_KILL_HELPER_DIR"

// TestHelperProcess is not a test: TestOutbox_Kill9KeepsAcknowledgedEvents
// runs the test binary again with helperDirEnv set, and this function then
// appends events from several goroutines until it is killed, printing
// "acked <seq>" for every Append that returned.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("helper process for TestOutbox_Kill9KeepsAcknowledgedEvents")
	}
	o, err := Open(Config{Dir: dir, AgentID: "agent-1"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	for w := range 8 {
		go func() {
			for i := 0; ; i++ {
				// Odd workers append with an idempotency key, printed with
				// the sequence: it must survive the kill with its event.
				var e protocol.ContactEvent
				var err error
				key := ""
				if w%2 == 1 {
					key = fmt.Sprintf("k-%d-%d-%d", os.Getpid(), w, i) // new keys in every child
					e, _, err = o.AppendIdempotent(context.Background(), event(w*1_000_000+i), idem(key, key))
				} else {
					e, err = o.Append(context.Background(), event(w*1_000_000+i))
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(2)
				}
				mu.Lock()
				// os.Stdout is unbuffered: the line is in the pipe before
				// the next Append starts.
				fmt.Fprintf(os.Stdout, "acked %d %s\n", e.Seq, key)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(30 * time.Second) // the parent kills us long before
	os.Exit(3)
}

// Invariant 4: every Append that returned survives kill -9 of the process,
// and numbering resumes after the highest stored sequence without gaps.
// Two rounds: the second child continues an outbox that was killed once.
func TestOutbox_Kill9KeepsAcknowledgedEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	var maxAcked uint64
	for round := 1; round <= 2; round++ {
		acked, keys := runAndKill(t, dir, 200)
		if len(acked) == 0 {
			t.Fatalf("round %d: the child acknowledged nothing", round)
		}
		for _, s := range acked {
			if s <= maxAcked {
				t.Fatalf("round %d: seq %d acknowledged again (highest before was %d)", round, s, maxAcked)
			}
		}
		o, err := Open(Config{Dir: dir, AgentID: "agent-1"})
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		stored := pendingSeqs(t, o, 0)
		if !slices.Equal(stored, seqRange(1, uint64(len(stored)))) {
			o.Close()
			t.Fatalf("round %d: stored sequences are not 1..n: %v", round, stored)
		}
		for _, s := range acked {
			if _, ok := slices.BinarySearch(stored, s); !ok {
				o.Close()
				t.Fatalf("round %d: acknowledged seq %d lost by kill -9 (stored 1..%d)", round, s, len(stored))
			}
		}
		// Every acknowledged keyed append, retried, is recognised.
		for key, seq := range keys {
			e, replayed, err := o.AppendIdempotent(context.Background(), event(0), idem(key, key))
			if err != nil || !replayed || e.Seq != seq {
				o.Close()
				t.Fatalf("round %d: retry of %s (acknowledged as seq %d) after kill -9: seq %d replayed %v %v", round, key, seq, e.Seq, replayed, err)
			}
		}
		next := uint64(len(stored)) + 1
		e, err := o.Append(context.Background(), event(0))
		if err != nil {
			o.Close()
			t.Fatal(err)
		}
		if e.Seq != next {
			o.Close()
			t.Fatalf("round %d: append after kill got seq %d, want %d", round, e.Seq, next)
		}
		maxAcked = e.Seq
		t.Logf("round %d: %d acknowledged before the kill, %d stored", round, len(acked), len(stored))
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// runAndKill starts the helper on dir, kills it with SIGKILL once it has
// acknowledged at least n events, and returns every sequence it printed,
// and the idempotency keys printed with theirs.
func runAndKill(t *testing.T, dir string, n int) ([]uint64, map[string]uint64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []uint64
	keys := map[string]uint64{}
	killed := false
	deadline := time.AfterFunc(20*time.Second, func() { _ = cmd.Process.Kill() })
	defer deadline.Stop()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "acked ")
		if !ok {
			continue
		}
		v, key, _ := strings.Cut(v, " ")
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("helper printed %q", sc.Text())
		}
		acked = append(acked, s)
		if key != "" {
			keys[key] = s
		}
		if !killed && len(acked) >= n {
			killed = true
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("helper exited before acknowledging %d events: %v", n, err)
	}
	slices.Sort(acked)
	return acked, keys
}
