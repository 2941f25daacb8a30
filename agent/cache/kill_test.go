package cache_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

const migrateHelperEnv = "CACHE_MIGRATE_HELPER_DIR"

// TestCacheMigrateHelperProcess is not a test:
// TestCache_Kill9DuringTheHistoryMoveLosesNothing runs the test binary
// again with migrateHelperEnv set, and this function opens the cache there
// (which moves the histories of an older store) until it is killed.
func TestCacheMigrateHelperProcess(t *testing.T) {
	dir := os.Getenv(migrateHelperEnv)
	if dir == "" {
		t.Skip("helper process for TestCache_Kill9DuringTheHistoryMoveLosesNothing")
	}
	c, err := cache.Open(cache.Config{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	_ = c.Close()
	fmt.Println("opened")
}

// Open moves an older store's histories in many transactions. Kill -9 in
// the middle of the move, then again while the next Open resumes it, and
// the Open after that still ends with every history in its new place,
// each contact once. Three rounds, each from a fresh copy of the store.
func TestCache_Kill9DuringTheHistoryMoveLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	const customers = 100_000
	pristine := t.TempDir()
	c, err := cache.Open(cache.Config{Dir: pristine})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	count := func(i int) int { return 1 + i%4 }
	func() {
		db := openStore(t, pristine)
		defer db.Close()
		wb := db.NewWriteBatchAt(db.MaxVersion() + 1)
		defer wb.Cancel()
		for i := range customers {
			id := "C" + strconv.Itoa(i)
			if err := wb.Set([]byte("h/"+id), legacyHistory(id, count(i), now)); err != nil {
				t.Fatal(err)
			}
		}
		if err := wb.Flush(); err != nil {
			t.Fatal(err)
		}
	}()
	killAfter := func(dir string, d time.Duration) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCacheMigrateHelperProcess$")
		cmd.Env = append(os.Environ(), migrateHelperEnv+"="+dir)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(d)
		_ = cmd.Process.Kill() // SIGKILL
		_ = cmd.Wait()
	}

	// The move's speed depends on the machine, so the delay adapts until
	// a kill lands part way: longer if nothing had moved, shorter if
	// everything had (that round then starts again from the copy).
	delay, rounds := 100*time.Millisecond, 0
	for attempt := 0; attempt < 20 && rounds < 3; attempt++ {
		dir := filepath.Join(t.TempDir(), "cache")
		if err := os.CopyFS(dir, os.DirFS(pristine)); err != nil {
			t.Fatal(err)
		}
		killAfter(dir, delay)
		switch left := legacyHistories(t, dir); {
		case left == 0:
			delay /= 2
			continue
		case left == customers:
			delay *= 2
			continue
		default:
			t.Logf("killed after %v with %d of %d histories still at their old keys", delay, left, customers)
		}
		killAfter(dir, delay) // and again while the next Open resumes the move
		rounds++
		c, err := cache.Open(cache.Config{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		// Every seventh customer: a transaction of the move holds thousands
		// of histories of neighbouring ids, so any lost one shows here.
		for i := 0; i < customers; i += 7 {
			id := "C" + strconv.Itoa(i)
			got, err := c.Contacts(id, time.Time{}, 100)
			if err != nil || len(got) != count(i) {
				t.Fatalf("round %d: %s: %d contacts (%v) after the interrupted moves, want %d", rounds, id, len(got), err, count(i))
			}
		}
		_ = c.Close()
		if n := legacyHistories(t, dir); n != 0 {
			t.Fatalf("round %d: %d histories left at their old keys", rounds, n)
		}
	}
	if rounds < 3 {
		t.Fatalf("a kill landed part way through the move in %d rounds of 20 attempts, want 3", rounds)
	}
}
