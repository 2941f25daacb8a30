package cache

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

var recPos = Position{ClusterID: "tp-1", Epoch: 1}

func recAt(idx uint64) Position { p := recPos; p.Index = idx; return p }

func recContact(agent string, seq uint64, customer string, at time.Time) protocol.ContactEvent {
	return protocol.ContactEvent{AgentID: agent, Seq: seq, Time: at, CustomerID: customer, Channel: "kiosk",
		Type: protocol.ContactOffer, Outcome: protocol.OutcomePresented, OfferID: "retain-10"}
}

func recCustomer(idx uint64, id string, tenure float64) api.Change {
	doc, _ := json.Marshal(protocol.Profile{ID: id, Region: "sh", Index: idx, Attributes: map[string]any{"tenureMonths": tenure}})
	return api.Change{Index: idx, Op: api.OpPut, Kind: KindCustomer, ID: id, Region: "sh", Doc: doc}
}

func openRec(t *testing.T, dir string) *Cache {
	t.Helper()
	c, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	c.SetRegion("sh", false)
	return c
}

// storedAs says how c holds id: whether it has a record, whether the record
// holds the history, and whether h/<id> exists.
func storedAs(t *testing.T, c *Cache, id string) (found, inline, inH bool) {
	t.Helper()
	err := c.view(func(tx *badger.Txn, gen uint64) error {
		var err error
		if found, err = readRecord(tx, gen, id, func(r record) error { inline = r.inline; return nil }); err != nil {
			return err
		}
		_, err = tx.Get(historyKey(id))
		inH = err == nil
		if errors.Is(err, badger.ErrKeyNotFound) {
			err = nil
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found, inline, inH
}

// lookup reads id as a decision does: tenure, profile index and the
// sequences of its contacts.
func lookup(t *testing.T, c *Cache, id string) string {
	t.Helper()
	p, evs, ok, err := c.Lookup(id, time.Time{}, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return "not cached"
	}
	var seqs []uint64
	for _, e := range evs {
		if e.CustomerID != id {
			t.Fatalf("contact of %q in %s's history", e.CustomerID, id)
		}
		seqs = append(seqs, e.Seq)
	}
	return fmt.Sprintf("tenure %v at %d, contacts %v", p.Attributes["tenureMonths"], p.Index, seqs)
}

// A customer's history goes into its record once the profile is cached,
// and every write of the profile (fetch, feed put, derive) or of the
// history (own contacts, pushed ones) keeps both.
func TestRecord_HistoryLivesInTheProfileRecordThroughEveryWrite(t *testing.T) {
	c := openRec(t, t.TempDir())
	now := time.Now()
	if _, err := c.ApplyChanges(recAt(1), nil); err != nil {
		t.Fatal(err)
	}
	// The agent's own contact for a customer it does not hold yet.
	if err := c.AddContacts([]protocol.ContactEvent{recContact("kiosk-1", 1, "C1", now.Add(-3*time.Hour))}, true); err != nil {
		t.Fatal(err)
	}
	if found, _, inH := storedAs(t, c, "C1"); found || !inH {
		t.Fatalf("own contact of an uncached customer: record %v, h/ %v", found, inH)
	}
	// Pushed contacts of customers not held are not kept.
	if err := c.AddContacts([]protocol.ContactEvent{recContact("ivr-1", 9, "C9", now)}, false); err != nil {
		t.Fatal(err)
	}
	if found, _, inH := storedAs(t, c, "C9"); found || inH {
		t.Fatal("kept a pushed contact of a customer not held")
	}
	// The fetch brings the profile and another agent's contact: both
	// histories meet in the record.
	f := Fetched{Profile: protocol.Profile{ID: "C1", Region: "sh", Index: 1, Attributes: map[string]any{"tenureMonths": 12.0}},
		Contacts: []protocol.ContactEvent{recContact("ivr-1", 2, "C1", now.Add(-2*time.Hour))}}
	if err := c.PutProfiles([]Fetched{f}); err != nil {
		t.Fatal(err)
	}
	check := func(step, want string) {
		t.Helper()
		if got := lookup(t, c, "C1"); got != want {
			t.Fatalf("%s: %s, want %s", step, got, want)
		}
		if found, inline, inH := storedAs(t, c, "C1"); !found || !inline || inH {
			t.Fatalf("%s: record %v, history inline %v, h/ %v", step, found, inline, inH)
		}
	}
	check("fetched", "tenure 12 at 1, contacts [1 2]")
	if _, err := c.ApplyChanges(recAt(2), []api.Change{recCustomer(2, "C1", 13)}); err != nil {
		t.Fatal(err)
	}
	check("feed put", "tenure 13 at 2, contacts [1 2]")
	derive := api.Change{Index: 3, Op: api.OpDerive, Kind: KindCustomer, ID: "C1",
		Doc: (&protocol.DerivedUpdate{Set: map[string]any{"rfm": "545"}}).AppendJSON(nil)}
	if _, err := c.ApplyChanges(recAt(3), []api.Change{derive}); err != nil {
		t.Fatal(err)
	}
	check("derive", "tenure 13 at 3, contacts [1 2]")
	if p, _, _ := c.Profile("C1"); p.Derived["rfm"] != "545" {
		t.Fatalf("derived fields %v", p.Derived)
	}
	if err := c.AddContacts([]protocol.ContactEvent{recContact("kiosk-1", 3, "C1", now.Add(-time.Hour))}, true); err != nil {
		t.Fatal(err)
	}
	check("own contact", "tenure 13 at 3, contacts [1 2 3]")
	if err := c.AddContacts([]protocol.ContactEvent{recContact("ivr-1", 4, "C1", now), recContact("ivr-1", 2, "C1", now.Add(-2*time.Hour))}, false); err != nil {
		t.Fatal(err)
	}
	check("pushed contacts, one a repeat", "tenure 13 at 3, contacts [1 2 3 4]")
	// An older fetch keeps the newer profile and still merges its contacts.
	f.Contacts = []protocol.ContactEvent{recContact("ivr-1", 5, "C1", now.Add(time.Minute))}
	if err := c.PutProfiles([]Fetched{f}); err != nil {
		t.Fatal(err)
	}
	check("older fetch", "tenure 13 at 3, contacts [1 2 3 4 5]")
	if evs, err := c.Contacts("C1", time.Time{}, 100); err != nil || len(evs) != 5 {
		t.Fatalf("Contacts = %d events, %v", len(evs), err)
	}
	// The erasure takes both.
	if _, err := c.ApplyChanges(recAt(4), []api.Change{{Index: 4, Op: api.OpDelete, Kind: KindCustomer, ID: "C1"}}); err != nil {
		t.Fatal(err)
	}
	if found, _, inH := storedAs(t, c, "C1"); found || inH {
		t.Fatal("the erasure left the record or its history")
	}
	if evs, _ := c.Contacts("C1", time.Time{}, 100); len(evs) != 0 {
		t.Fatalf("erased customer has %d contacts", len(evs))
	}
}

// A store written before histories moved into the records (profile at
// p/, history at h/) is read as it is, and each customer's history moves
// into its record at the customer's next write; a restart changes nothing.
func TestRecord_AStoreOfTheFirstFormatIsReadAndMovedOnItsNextWrite(t *testing.T) {
	dir := t.TempDir()
	c := openRec(t, dir)
	now := time.Now()
	if _, err := c.ApplyChanges(recAt(1), nil); err != nil {
		t.Fatal(err)
	}
	legacy := func(id string, seqs ...uint64) {
		t.Helper()
		p := protocol.Profile{ID: id, Region: "sh", Index: 1, Attributes: map[string]any{"tenureMonths": 12.0}}
		js, _ := json.Marshal(p)
		var evs []protocol.ContactEvent
		for _, s := range seqs {
			evs = append(evs, historyEvent(recContact("ivr-1", s, id, now.Add(-time.Duration(10-s)*time.Hour))))
		}
		err := c.batch(c.gen, func(wb *badger.WriteBatch) error {
			if err := wb.Set(profileKey(c.gen, id), append(binary.BigEndian.AppendUint64(nil, 1), js...)); err != nil {
				return err
			}
			return wb.Set(historyKey(id), protocol.AppendEventList(nil, evs))
		})
		if err != nil {
			t.Fatal(err)
		}
		if found, inline, inH := storedAs(t, c, id); !found || inline || !inH {
			t.Fatal("the test did not write the first format")
		}
	}
	legacy("C1", 1, 2)
	legacy("C2", 1)
	legacy("C3", 1)
	for id, want := range map[string]string{"C1": "tenure 12 at 1, contacts [1 2]", "C2": "tenure 12 at 1, contacts [1]"} {
		if got := lookup(t, c, id); got != want {
			t.Fatalf("%s of the first format: %s, want %s", id, got, want)
		}
	}
	if err := c.AddContacts([]protocol.ContactEvent{recContact("kiosk-1", 3, "C1", now)}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ApplyChanges(recAt(2), []api.Change{recCustomer(2, "C2", 20)}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c = openRec(t, dir)
	for id, want := range map[string]string{"C1": "tenure 12 at 1, contacts [1 2 3]", "C2": "tenure 20 at 2, contacts [1]", "C3": "tenure 12 at 1, contacts [1]"} {
		if got := lookup(t, c, id); got != want {
			t.Fatalf("%s: %s, want %s", id, got, want)
		}
	}
	for id, moved := range map[string]bool{"C1": true, "C2": true, "C3": false} {
		if found, inline, inH := storedAs(t, c, id); !found || inline != moved || inH == moved {
			t.Fatalf("%s: record %v, history inline %v, h/ %v; want moved %v", id, found, inline, inH, moved)
		}
	}
}

// A record cut short is an error, never a wrong profile.
func TestRecord_ParseRefusesATruncatedRecord(t *testing.T) {
	good := appendRecord(nil, 7, []byte(`{"id":"C1"}`), protocol.AppendEventList(nil, nil))
	if r, err := parseRecord(good); err != nil || r.index != 7 || string(r.json) != `{"id":"C1"}` || !r.inline {
		t.Fatalf("parse = %+v, %v", r, err)
	}
	for _, n := range []int{0, 8, 12, recordHeader + 5} {
		if _, err := parseRecord(good[:n]); err == nil {
			t.Fatalf("a record cut to %d bytes parsed", n)
		}
	}
}
