package cache_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/agent/cache"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// A put of many profiles is more than one badger transaction holds (15%
// of a 16 MiB memtable): badger splits the batch, and a reader must still
// see all of it or none.
func TestCache_AReaderNeverSeesPartOfABatch(t *testing.T) {
	c := open(t, t.TempDir())
	const perBatch, batches = 20000, 3
	pad := strings.Repeat("x", 100)
	var done atomic.Bool
	var wg sync.WaitGroup
	var bad atomic.Value
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !done.Load() {
			if n := c.ProfileCount(); n%perBatch != 0 {
				bad.Store(fmt.Sprintf("a reader counted %d profiles, not a multiple of the batch (%d)", n, perBatch))
				return
			}
		}
	}()
	for b := range batches {
		fs := make([]cache.Fetched, perBatch)
		for i := range fs {
			fs[i].Profile = protocol.Profile{ID: fmt.Sprintf("C%d-%05d", b, i), Index: 1, Attributes: map[string]any{"pad": pad}}
		}
		if err := c.PutProfiles(fs); err != nil {
			t.Fatal(err)
		}
		// What returned is what the next read sees.
		if n := c.ProfileCount(); n != (b+1)*perBatch {
			t.Fatalf("after %d batches a read counts %d profiles, want %d", b+1, n, (b+1)*perBatch)
		}
	}
	done.Store(true)
	wg.Wait()
	if msg := bad.Load(); msg != nil {
		t.Fatal(msg)
	}
}

// Writers of different kinds commit one at a time, each at its own
// timestamp: whatever a write returned is visible to the reads that
// follow, whichever writer committed last.
func TestCache_AReadAfterAWriteSeesIt(t *testing.T) {
	c := open(t, t.TempDir())
	now := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Add(3)
	go func() { // profiles
		defer wg.Done()
		for i := range 200 {
			id := fmt.Sprintf("P%d", i)
			if err := c.PutProfiles([]cache.Fetched{{Profile: protocol.Profile{ID: id, Index: 1}}}); err != nil {
				errs <- err
				return
			}
			if !c.HasProfile(id) {
				errs <- fmt.Errorf("profile %s stored but not read back", id)
				return
			}
		}
	}()
	go func() { // own contacts
		defer wg.Done()
		for i := range 200 {
			if err := c.AddContacts([]protocol.ContactEvent{contact("kiosk-1", uint64(i+1), "H", now.Add(time.Duration(i)*time.Second))}, true); err != nil {
				errs <- err
				return
			}
			evs, err := c.Contacts("H", time.Time{}, 1000)
			if err != nil || len(evs) != i+1 {
				errs <- fmt.Errorf("after contact %d the history holds %d (%v)", i+1, len(evs), err)
				return
			}
		}
	}()
	go func() { // catalogue changes
		defer wg.Done()
		for i := range 200 {
			idx := uint64(i + 1)
			if _, err := c.ApplyChanges(at(idx), []api.Change{put(idx, "x", i)}); err != nil {
				errs <- err
				return
			}
			o, ok, err := c.Get("Offer", "x")
			if err != nil || !ok || !strings.Contains(string(o.Doc), fmt.Sprintf(`"value":%d,`, i)) {
				errs <- fmt.Errorf("after change %d the object reads %s (%v)", idx, o.Doc, err)
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// And after a restart, at the timestamp the store was left at.
	dir := t.TempDir()
	c2, err := cache.Open(cache.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.PutProfiles([]cache.Fetched{{Profile: protocol.Profile{ID: "R", Index: 1}}}); err != nil {
		t.Fatal(err)
	}
	c2.Close()
	c3 := open(t, dir)
	if err := c3.PutProfiles([]cache.Fetched{{Profile: protocol.Profile{ID: "S", Index: 1}}}); err != nil {
		t.Fatal(err)
	}
	if !c3.HasProfile("R") || !c3.HasProfile("S") {
		t.Fatal("after a restart the cache lost what it held or cannot write")
	}
}

// A contact merged once is not merged again (its history is not even
// read), until something else drops histories: after an erasure, the same
// contact for the customer cached anew goes back in.
func TestCache_AContactMergedBeforeAnErasureIsRecordedAgainAfterIt(t *testing.T) {
	c := open(t, t.TempDir())
	c.SetRegion("sh", false)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	if _, err := c.ApplyChanges(at(1), []api.Change{customer(1, "C1", "sh", 12)}); err != nil {
		t.Fatal(err)
	}
	ev := contact("ivr-1", 7, "C1", now)
	for range 2 {
		if err := c.AddContacts([]protocol.ContactEvent{ev}, false); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := c.Contacts("C1", time.Time{}, 100); len(got) != 1 {
		t.Fatalf("history %+v, want the contact once", got)
	}
	if _, err := c.ApplyChanges(at(2), []api.Change{{Index: 2, Op: api.OpDelete, Kind: cache.KindCustomer, ID: "C1", Region: "sh"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ApplyChanges(at(3), []api.Change{customer(3, "C1", "sh", 13)}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddContacts([]protocol.ContactEvent{ev}, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Contacts("C1", time.Time{}, 100); len(got) != 1 || got[0].Seq != 7 {
		t.Fatalf("history after the erasure %+v, want the contact again", got)
	}
}
