package cache_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/agent/cache"
	"touchpoint.dev/touchpoint/protocol"
)

// Flush moves what a prefetch left in the memtable into a table, loses
// nothing, and makes the cache's own writers wait rather than fail while
// badger refuses writes (DropPrefix's blocked writes).
func TestCache_FlushMovesTheMemtableIntoATableAndWritersWait(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir)
	now := time.Unix(1_700_000_000, 0).UTC()
	var fs []cache.Fetched
	for i := range 2000 {
		id := "C" + strconv.Itoa(i)
		fs = append(fs, cache.Fetched{Profile: protocol.Profile{ID: id, Index: 1, Attributes: map[string]any{"tenureMonths": float64(i)}},
			Contacts: []protocol.ContactEvent{contact("ivr-1", uint64(i+1), id, now)}})
	}
	if err := c.PutProfiles(fs); err != nil {
		t.Fatal(err)
	}
	if s := c.LevelsSummary(); s != "" {
		t.Fatalf("a prefetch of 2,000 profiles already in tables (%s): the test shows nothing", s)
	}

	// Contacts pushed back by the control plane while the flush runs.
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	stop := make(chan struct{})
	wrote := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := c.AddContacts([]protocol.ContactEvent{contact("kiosk-1", uint64(i+1), "C"+strconv.Itoa(i%2000), now)}, false); err != nil {
				errs <- err
				return
			}
			wrote++
		}
	}()
	err := c.Flush()
	time.Sleep(20 * time.Millisecond) // a few writes after the flush, too
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		t.Fatalf("a write during the flush failed: %v", err)
	default:
	}
	if s := c.LevelsSummary(); s == "" {
		t.Fatal("no table after Flush: the profiles are still only in the memtable")
	}
	t.Logf("wrote %d", wrote)
	if wrote == 0 {
		t.Fatal("no write ran beside the flush")
	}
	for _, i := range []int{0, 999, 1999} {
		if got := tenure(t, c, "C"+strconv.Itoa(i)); got != float64(i) {
			t.Fatalf("C%d: tenure %v after Flush", i, got)
		}
	}
	// Every contact written beside the flush is there: C0's history holds
	// its prefetched contact and each write that went to it.
	evs, err := c.Contacts("C0", now.Add(-time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + (wrote+1999)/2000; len(evs) != want {
		t.Fatalf("C0 holds %d contacts, want %d (%d written beside the flush)", len(evs), want, wrote)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, dir)
	if got := tenure(t, c, "C1999"); got != 1999 {
		t.Fatalf("C1999 after a restart: tenure %v", got)
	}
}
