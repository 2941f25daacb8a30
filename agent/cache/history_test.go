package cache_test

import (
	"strconv"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"touchpoint.dev/touchpoint/agent/cache"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// A contact cap counts holdouts (agent/decide's contact policy), so the
// history keeps them next to the customer's other contacts.
func TestCache_HistoryKeepsHoldouts(t *testing.T) {
	c := open(t, t.TempDir())
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	presented := contact("ivr-1", 1, "C1", now)
	held := contact("kiosk-1", 1, "C1", now.Add(time.Second))
	held.Outcome = protocol.OutcomeHoldout
	if err := c.AddContacts([]protocol.ContactEvent{presented, held}, true); err != nil {
		t.Fatal(err)
	}
	got, err := c.Contacts("C1", time.Time{}, 1000)
	if err != nil || len(got) != 2 || got[1].Outcome != protocol.OutcomeHoldout {
		t.Fatalf("history %+v (%v), want the presented contact and the holdout", got, err)
	}
}

// openStore opens the cache's badger store in dir directly (managed mode,
// as the agent opens it), for a test to write what an older version of
// the agent left on disk.
func openStore(t *testing.T, dir string) *badger.DB {
	t.Helper()
	db, err := badger.OpenManaged(badger.DefaultOptions(dir).WithLogger(nil).WithCompression(options.None))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// legacyHistory is customer's history of n presented contacts a minute
// apart from at, encoded as the cache stores it.
func legacyHistory(customer string, n int, at time.Time) []byte {
	var evs []protocol.ContactEvent
	for i := range n {
		evs = append(evs, contact("ivr-1", uint64(i+1), customer, at.Add(time.Duration(i)*time.Minute)))
	}
	return protocol.AppendEventList(nil, evs)
}

// legacyStore runs fn on the cache's badger store as the agent's badger
// (managed mode) opens it, committing at the store's next timestamp: how a
// test writes what an older version of the agent left on disk.
func legacyStore(t *testing.T, dir string, fn func(tx *badger.Txn)) {
	t.Helper()
	db := openStore(t, dir)
	defer db.Close()
	ts := db.MaxVersion() + 1
	tx := db.NewTransactionAt(ts, true)
	defer tx.Discard()
	fn(tx)
	if err := tx.CommitAt(ts, nil); err != nil {
		t.Fatal(err)
	}
}

// legacyHistories counts the histories left at their old keys (h/).
func legacyHistories(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	legacyStore(t, dir, func(tx *badger.Txn) {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte("h/")
		it := tx.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
	})
	return n
}

// Stores written before histories sat next to their profiles kept them at
// h/<customer>. Open moves them, in as many transactions as the memtable
// needs, so that every cap counts what it counted before the upgrade, and
// a crash between writing a moved history and deleting its old key (both
// present at the next Open) leaves one history, not two.
func TestCache_HistoriesOfAnOlderStoreMoveNextToTheirProfiles(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	const customers = 10_000 // about 1.5 MB of histories: with an 8 MiB memtable, several transactions
	func() {
		c, err := cache.Open(cache.Config{Dir: dir, MemTableMB: 8})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetRegion("sh", false)
		if _, err := c.ApplyChanges(at(1), []api.Change{customer(1, "C1", "sh", 12), customer(1, "C2", "sh", 3)}); err != nil {
			t.Fatal(err)
		}
	}()
	legacyStore(t, dir, func(tx *badger.Txn) {
		for i := range customers {
			id := "C" + strconv.Itoa(i+1) // C1 and C2 are cached, the others are this agent's own contacts
			if err := tx.Set([]byte("h/"+id), legacyHistory(id, 1+i%3, now)); err != nil {
				t.Fatal(err)
			}
		}
	})

	check := func(c *cache.Cache) {
		t.Helper()
		for _, i := range []int{0, 1, 2, 4999, customers - 1} {
			id := "C" + strconv.Itoa(i+1)
			if got, err := c.Contacts(id, time.Time{}, 100); err != nil || len(got) != 1+i%3 {
				t.Fatalf("%s: history %d contacts (%v) after the move, want %d", id, len(got), err, 1+i%3)
			}
		}
		p, evs, ok, err := c.Lookup("C2", time.Time{}, 100, nil)
		if err != nil || !ok || p.ID != "C2" || len(evs) != 2 {
			t.Fatalf("lookup of C2: %v %d contacts ok=%v (%v), want the profile and 2 contacts", p, len(evs), ok, err)
		}
		if n := c.ProfileCount(); n != 2 {
			t.Fatalf("%d profiles counted, want 2 (histories are not profiles)", n)
		}
	}
	reopen := func() {
		t.Helper()
		c, err := cache.Open(cache.Config{Dir: dir, MemTableMB: 8})
		if err != nil {
			t.Fatal(err)
		}
		check(c)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	reopen()
	if n := legacyHistories(t, dir); n != 0 {
		t.Fatalf("%d histories left at their old keys", n)
	}
	// A crash mid-move: C1's history both moved and still at its old key.
	legacyStore(t, dir, func(tx *badger.Txn) {
		if err := tx.Set([]byte("h/C1"), legacyHistory("C1", 1, now)); err != nil {
			t.Fatal(err)
		}
	})
	reopen()
	if n := legacyHistories(t, dir); n != 0 {
		t.Fatalf("%d histories left at their old keys", n)
	}
}
