package fsm_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func upsert(profiles ...protocol.Profile) command {
	return command{typ: fsm.CmdCustomersUpsert, payload: fsm.CustomersUpsert{Profiles: profiles}}
}

func erase(id string) command {
	return command{typ: fsm.CmdCustomerErase, payload: fsm.CustomerErase{ID: id}}
}

func customer(id, region string, attrs map[string]any) protocol.Profile {
	return protocol.Profile{ID: id, Region: region, Attributes: attrs}
}

func mustCustomer(t *testing.T, f *fsm.FSM, id string) *protocol.Profile {
	t.Helper()
	p, err := f.Customer(id)
	if err != nil {
		t.Fatalf("customer %s: %v", id, err)
	}
	return p
}

// customerChanges lists the feed's Customer records as index:op:id@region.
func customerChanges(t *testing.T, f *fsm.FSM) []string {
	t.Helper()
	feed, err := f.Changes(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range feed.Changes {
		if c.Kind == fsm.KindCustomer {
			out = append(out, fmt.Sprintf("%d:%s:%s@%s", c.Index, c.Op, c.ID, c.Region))
		}
	}
	return out
}

func regionIDs(t *testing.T, f *fsm.FSM, region string) []string {
	t.Helper()
	ps, next, err := f.CustomersInRegion(region, "", 0)
	if err != nil || next != "" {
		t.Fatalf("region %q: next %q, %v", region, next, err)
	}
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	return ids
}

func TestCustomers_UpsertStoresTypedProfilesWithIndexAndChanges(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	r := applyOK(t, f, 1, upsert(
		protocol.Profile{ID: "C1", Region: "sh", Consents: map[string]bool{"sms": true}, DoNotDisturb: true,
			Attributes: map[string]any{"name": "Li Wei", "phone": "13800000001", "tenureMonths": 12.0, "vip": true}},
		customer("C2", "", map[string]any{"tenureMonths": 3.0}),
	))
	var res fsm.CustomersResult
	if err := json.Unmarshal(r.Data, &res); err != nil || res.Upserted != 2 || res.Created != 2 || res.Index != 1 {
		t.Fatalf("result %s: %v", r.Data, err)
	}
	p := mustCustomer(t, f, "C1")
	want := protocol.Profile{ID: "C1", Region: "sh", Consents: map[string]bool{"sms": true}, DoNotDisturb: true,
		Attributes: map[string]any{"name": "Li Wei", "phone": "13800000001", "tenureMonths": 12.0, "vip": true}, Index: 1}
	if fmt.Sprint(*p) != fmt.Sprint(want) {
		t.Errorf("C1 = %+v\nwant %+v", *p, want)
	}
	if got := customerChanges(t, f); fmt.Sprint(got) != "[1:put:C1@sh 1:put:C2@]" {
		t.Errorf("changes %v", got)
	}
	// The change carries the stored document, index included.
	feed, _ := f.Changes(0, 0)
	var doc protocol.Profile
	if err := json.Unmarshal(feed.Changes[0].Doc, &doc); err != nil || doc.Index != 1 || doc.Attributes["phone"] != "13800000001" {
		t.Errorf("change doc %s: %v", feed.Changes[0].Doc, err)
	}
	if f.LastChange() != 1 {
		t.Errorf("last change %d", f.LastChange())
	}
	// The audit log counts profiles and names nobody.
	audit, _ := f.Audit(0)
	last := audit[len(audit)-1]
	if last.Action != "customers.import" || last.Target != "2 profiles" || strings.Contains(string(mustJSON(last)), "C1") {
		t.Errorf("audit %+v", last)
	}
}

func TestCustomers_ReupsertReplacesInPlaceAndMovesRegion(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, upsert(customer("C1", "sh", map[string]any{"plan": "basic", "tenureMonths": 12.0}), customer("C2", "sh", nil)))
	r := applyOK(t, f, 2, upsert(customer("C1", "bj", map[string]any{"plan": "5g-max"})))
	var res fsm.CustomersResult
	_ = json.Unmarshal(r.Data, &res)
	if res.Created != 0 || res.Upserted != 1 {
		t.Errorf("re-upsert result %+v", res)
	}
	p := mustCustomer(t, f, "C1")
	if p.Index != 2 || p.Region != "bj" || p.Attributes["plan"] != "5g-max" {
		t.Errorf("C1 after re-upsert %+v", p)
	}
	if _, ok := p.Attributes["tenureMonths"]; ok {
		t.Error("a re-upsert replaces the profile: tenureMonths should be gone")
	}
	if got := regionIDs(t, f, "sh"); fmt.Sprint(got) != "[C2]" {
		t.Errorf("region sh %v", got)
	}
	if got := regionIDs(t, f, "bj"); fmt.Sprint(got) != "[C1]" {
		t.Errorf("region bj %v", got)
	}
	total, by, err := f.CustomerCounts()
	if err != nil || total != 2 || by["sh"] != 1 || by["bj"] != 1 {
		t.Errorf("counts %d %v %v", total, by, err)
	}
	// Customer keys stay out of the other families (the fleet registry).
	if agents, err := f.Agents(); err != nil || len(agents) != 0 {
		t.Errorf("agents after customer upserts: %v %v", agents, err)
	}
	// Within one batch the later profile of an id wins.
	applyOK(t, f, 3, upsert(customer("C3", "sh", map[string]any{"v": 1.0}), customer("C3", "gz", map[string]any{"v": 2.0})))
	if p := mustCustomer(t, f, "C3"); p.Region != "gz" || p.Attributes["v"] != 2.0 {
		t.Errorf("C3 %+v", p)
	}
	if got := regionIDs(t, f, "sh"); fmt.Sprint(got) != "[C2]" {
		t.Errorf("region sh after in-batch move %v", got)
	}
}

func TestCustomers_InvalidProfileRefusesTheWholeBatch(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	before := readState(t, f)
	idx := uint64(0)
	for name, bad := range map[string]protocol.Profile{
		"bad id":      {ID: "a b"},
		"bad region":  {ID: "C9", Region: "x/y"},
		"bad channel": {ID: "C9", Consents: map[string]bool{"fax": true}},
		"long value":  {ID: "C9", Attributes: map[string]any{"note": strings.Repeat("x", protocol.MaxAttributeValue+1)}},
		"bad utf-8":   {ID: "C9", Attributes: map[string]any{"note": "\xff"}},
	} {
		idx++
		r := apply(t, f, idx, upsert(customer("C1", "sh", nil), bad))
		if r.Err == nil || r.Err.Code != api.CodeInvalidField || r.Err.Document == nil || *r.Err.Document != 1 {
			t.Errorf("%s: %+v", name, r.Err)
		}
		if _, err := f.Customer("C1"); api.CodeOf(err) != api.CodeNotFound {
			t.Errorf("%s: C1 stored from a refused batch", name)
		}
	}
	after := readState(t, f)
	after.Applied, before.Applied = 0, 0
	assertSameState(t, after, before)
	// A garbled payload is refused, not a panic.
	r := apply(t, f, 10, command{typ: fsm.CmdCustomersUpsert, payload: fsm.RawPayload{1, 5}})
	if r.Err == nil || r.Err.Code != api.CodeBadRequest {
		t.Errorf("garbled payload: %+v", r.Err)
	}
}

func TestCustomers_RegionListingPagesInIDOrder(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	var ps []protocol.Profile
	for _, id := range []string{"C10", "C2", "C1", "C3", "A", "c"} {
		ps = append(ps, customer(id, "sh", nil))
	}
	ps = append(ps, customer("Z", "sh-2", nil), customer("Y", "", nil))
	applyOK(t, f, 1, upsert(ps...))
	var got []string
	after := ""
	for page := 0; ; page++ {
		list, next, err := f.CustomersInRegion("sh", after, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range list {
			got = append(got, p.ID)
		}
		if next == "" {
			break
		}
		if page > 5 {
			t.Fatal("paging does not end")
		}
		after = next
	}
	if want := []string{"A", "C1", "C10", "C2", "C3", "c"}; !slices.Equal(got, want) {
		t.Errorf("region sh in pages of 4: %v, want %v", got, want)
	}
	if got := regionIDs(t, f, ""); fmt.Sprint(got) != "[Y]" {
		t.Errorf("customers without a region: %v", got)
	}
	// A page that ends exactly at the last id says so.
	if list, next, _ := f.CustomersInRegion("sh", "C2", 2); len(list) != 2 || next != "" {
		t.Errorf("last page: %d profiles, next %q", len(list), next)
	}
}

func TestCustomers_EraseDeletesProfileAndAnonymisesLedger(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, upsert(customer("C1", "sh", map[string]any{"phone": "13800000001"}), customer("C2", "sh", nil)))
	p := fsm.EventsIngest{AgentID: "kiosk-1"}
	for seq := uint64(1); seq <= 4; seq++ {
		c := "C1"
		if seq == 3 {
			c = "C2"
		}
		p.Events = append(p.Events, contact("kiosk-1", seq, c))
	}
	applyOK(t, f, 2, command{typ: fsm.CmdEventsIngest, payload: p})
	if evs, _ := f.RecentContacts("C1", 0); len(evs) != 3 || evs[0].Seq != 4 || evs[2].Seq != 1 {
		t.Fatalf("recent contacts of C1 before erase: %+v", evs)
	}

	r := applyOK(t, f, 3, erase("C1"))
	var res fsm.CustomerEraseResult
	if err := json.Unmarshal(r.Data, &res); err != nil || !res.Profile || res.Anonymized != 3 || res.More {
		t.Fatalf("erase result %s: %v", r.Data, err)
	}
	if _, err := f.Customer("C1"); api.CodeOf(err) != api.CodeNotFound {
		t.Errorf("C1 after erase: %v", err)
	}
	if got := regionIDs(t, f, "sh"); fmt.Sprint(got) != "[C2]" {
		t.Errorf("region sh after erase %v", got)
	}
	// The feed no longer carries the erased profile: its put is gone, the
	// delete (with the region) is there.
	if got := customerChanges(t, f); fmt.Sprint(got) != "[1:put:C2@sh 3:delete:C1@sh]" {
		t.Errorf("changes after erase %v", got)
	}
	feed, _ := f.Changes(0, 0)
	if bytes.Contains(mustJSON(feed), []byte("13800000001")) {
		t.Error("the change feed still holds the erased phone number")
	}
	if f.LastChange() != 3 {
		t.Errorf("last change %d, want the erase's index", f.LastChange())
	}
	// The events stay, under the anonymous id; none names C1.
	if evs, _ := f.ContactsByCustomer("C1", baseTime.Add(-1e12), 0); len(evs) != 0 {
		t.Errorf("C1 still has %d contacts", len(evs))
	}
	evs, _ := f.ContactsByCustomer(fsm.ErasedCustomer, baseTime.Add(-1e12), 0)
	if len(evs) != 3 || evs[0].CustomerID != fsm.ErasedCustomer || evs[0].AgentID != "kiosk-1" || evs[0].OfferID != "retain-10" {
		t.Errorf("anonymised events %+v", evs)
	}
	if evs, _ := f.ContactsByCustomer("C2", baseTime.Add(-1e12), 0); len(evs) != 1 {
		t.Errorf("C2's contacts touched: %+v", evs)
	}
	if total, _, _ := f.ContactStats(); total != 4 {
		t.Errorf("ledger total %d, want 4", total)
	}
	audit, _ := f.Audit(0)
	if last := audit[len(audit)-1]; last.Action != "customers.erase" || last.Target != "C1" {
		t.Errorf("audit %+v", last)
	}

	// Erasing again: nothing left to erase.
	if r := apply(t, f, 4, erase("C1")); r.Err == nil || r.Err.Code != api.CodeNotFound {
		t.Errorf("second erase: %+v", r.Err)
	}
	if r := apply(t, f, 5, erase("nobody")); r.Err == nil || r.Err.Code != api.CodeNotFound {
		t.Errorf("erase unknown: %+v", r.Err)
	}
	if r := apply(t, f, 6, erase("a/b")); r.Err == nil || r.Err.Code != api.CodeInvalidField {
		t.Errorf("erase bad id: %+v", r.Err)
	}
}

func TestCustomers_SnapshotRoundTripIncludesProfilesAndRegions(t *testing.T) {
	src := openFSM(t, fsm.Config{})
	applyAll(t, src, 1, initCluster("cl-1"),
		upsert(customer("C1", "sh", map[string]any{"tenureMonths": 12.0}), customer("C2", "bj", nil)),
		erase("C2"),
		upsert(customer("C3", "", map[string]any{"vip": true})))
	stream := persist(t, src)
	dst := openFSM(t, fsm.Config{})
	dst.Started()
	if err := restore(dst, stream); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*fsm.FSM{src, dst} {
		if p := mustCustomer(t, f, "C1"); p.Index != 2 || p.Attributes["tenureMonths"] != 12.0 {
			t.Errorf("C1 %+v", p)
		}
		if _, err := f.Customer("C2"); api.CodeOf(err) != api.CodeNotFound {
			t.Errorf("C2: %v", err)
		}
		if got := regionIDs(t, f, ""); fmt.Sprint(got) != "[C3]" {
			t.Errorf("no region: %v", got)
		}
		if got := customerChanges(t, f); fmt.Sprint(got) != "[2:put:C1@sh 3:delete:C2@bj 4:put:C3@]" {
			t.Errorf("changes %v", got)
		}
	}
}

// Every node must store the same bytes whatever order Go iterates maps in.
func TestCustomers_ApplyIsDeterministic(t *testing.T) {
	attrs := map[string]any{}
	for i := range 50 {
		attrs[fmt.Sprintf("a%02d", i)] = float64(i) / 3
	}
	var streams [][]byte
	for range 3 {
		f := openFSM(t, fsm.Config{})
		applyAll(t, f, 1, initCluster("cl-1"), upsert(customer("C1", "sh", attrs)), erase("C1"), upsert(customer("C2", "sh", attrs)))
		feed, _ := f.Changes(0, 0)
		p := mustCustomer(t, f, "C2")
		streams = append(streams, append(mustJSON(feed), mustJSON(p)...))
	}
	for i := 1; i < len(streams); i++ {
		if !bytes.Equal(streams[i], streams[0]) {
			t.Fatalf("run %d differs", i)
		}
	}
}

// A customer with more ledger events than one entry may move is erased in
// several entries: the first deletes the profile, the next ones move the
// rest, and then there is nothing left.
func TestCustomers_EraseOfALongLedgerContinues(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, upsert(customer("C1", "sh", nil)))
	idx := uint64(2)
	seq := uint64(0)
	for _, n := range []int{10_000, 10_000, 5} {
		p := fsm.EventsIngest{AgentID: "kiosk-1"}
		for range n {
			seq++
			p.Events = append(p.Events, contact("kiosk-1", seq, "C1"))
		}
		applyOK(t, f, idx, command{typ: fsm.CmdEventsIngest, payload: p})
		idx++
	}
	var res fsm.CustomerEraseResult
	_ = json.Unmarshal(applyOK(t, f, idx, erase("C1")).Data, &res)
	if !res.Profile || res.Anonymized != 20_000 || !res.More {
		t.Fatalf("first erase %+v", res)
	}
	res = fsm.CustomerEraseResult{}
	_ = json.Unmarshal(applyOK(t, f, idx+1, erase("C1")).Data, &res)
	if res.Profile || res.Anonymized != 5 || res.More {
		t.Fatalf("continuation %+v", res)
	}
	if r := apply(t, f, idx+2, erase("C1")); r.Err == nil || r.Err.Code != api.CodeNotFound {
		t.Fatalf("third erase %+v", r.Err)
	}
	if evs, _ := f.RecentContacts(fsm.ErasedCustomer, 1); len(evs) != 1 || evs[0].Seq != seq {
		t.Fatalf("newest anonymised event %+v", evs)
	}
}
