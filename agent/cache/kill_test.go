package cache_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/agent/cache"
	"touchpoint.dev/touchpoint/protocol/api"
)

const killHelperEnv = "CACHE_KILL_HELPER_DIR"

// TestCacheHelperProcess is not a test: TestCache_Kill9LeavesAConsistentCopy
// runs the test binary again with killHelperEnv set, and this function then
// alternates change pages and snapshot installs until it is killed,
// printing "pos <index>" after each one returned.
func TestCacheHelperProcess(t *testing.T) {
	dir := os.Getenv(killHelperEnv)
	if dir == "" {
		t.Skip("helper process for TestCache_Kill9LeavesAConsistentCopy")
	}
	c, err := cache.Open(cache.Config{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	for idx := c.Position().Index + 1; ; idx++ {
		pos := cache.Position{ClusterID: "tp-1", Epoch: 1, Index: idx}
		x := json.RawMessage(fmt.Sprintf(`{"value":%d}`, idx))
		if idx%5 == 0 {
			objs := []api.Object{{Kind: "Offer", ID: "x", Index: idx, Doc: x}}
			for j := 0; j < 20; j++ {
				objs = append(objs, api.Object{Kind: "Plan", ID: fmt.Sprintf("s-%d-%02d", idx, j), Index: idx, Doc: json.RawMessage(`{}`)})
			}
			_, err = c.ApplySnapshot(pos, objs)
		} else {
			_, err = c.ApplyChanges(pos, []api.Change{{Index: idx, Op: api.OpPut, Kind: "Offer", ID: "x", Doc: x}})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "apply:", err)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stdout, "pos %d\n", idx)
	}
}

// After kill -9 the copy is exactly one consistent state: at least as new
// as the last apply that returned, the data matching the position, and a
// snapshot either wholly installed or not at all.
func TestCache_Kill9LeavesAConsistentCopy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	for round := 1; round <= 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCacheHelperProcess$")
		cmd.Env = append(os.Environ(), killHelperEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var last uint64
		lines := make(chan uint64)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if v, ok := strings.CutPrefix(sc.Text(), "pos "); ok {
					n, _ := strconv.ParseUint(v, 10, 64)
					lines <- n
				}
			}
			close(lines)
		}()
		deadline := time.After(300 * time.Millisecond)
	read:
		for {
			select {
			case n, ok := <-lines:
				if !ok {
					break read
				}
				last = n
			case <-deadline:
				_ = cmd.Process.Kill() // SIGKILL
				for n := range lines {
					last = n
				}
				break read
			}
		}
		_ = cmd.Wait()
		if last == 0 {
			t.Fatalf("round %d: the child applied nothing", round)
		}

		c, err := cache.Open(cache.Config{Dir: dir})
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		pos := c.Position()
		if pos.Index < last {
			t.Fatalf("round %d: position %d is behind the last acknowledged apply %d", round, pos.Index, last)
		}
		if got := value(t, c, "x"); uint64(got) != pos.Index {
			t.Fatalf("round %d: x = %d but the position is %d", round, got, pos.Index)
		}
		plans, err := c.List("Plan")
		if err != nil {
			t.Fatal(err)
		}
		snap := pos.Index - pos.Index%5
		if len(plans) != 20 {
			t.Fatalf("round %d: %d snapshot objects, want the 20 of one snapshot", round, len(plans))
		}
		for _, p := range plans {
			if !strings.HasPrefix(p.ID, fmt.Sprintf("s-%d-", snap)) {
				t.Fatalf("round %d: object %s is not from the snapshot at %d", round, p.ID, snap)
			}
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: last acknowledged %d, reopened at %d", round, last, pos.Index)
	}
}
