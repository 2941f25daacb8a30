package fsm_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func derive(readIndex uint64, cs ...fsm.DerivedFields) command {
	return command{typ: fsm.CmdCustomersDerive, payload: fsm.CustomersDerive{ReadIndex: readIndex, Customers: cs}}
}

func derived(id string, set map[string]any, unset ...string) fsm.DerivedFields {
	return fsm.DerivedFields{ID: id, DerivedUpdate: protocol.DerivedUpdate{Set: set, Unset: unset}}
}

func TestCustomers_DeriveStoresComputedFieldsApartAndEveryReadOverlaysThem(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	imported := customer("C1", "sh", map[string]any{"tenureMonths": 12.0})
	imported.Derived = map[string]any{"rfm": "111", "source": "crm"}
	applyOK(t, f, 1, upsert(imported, customer("C2", "", map[string]any{"tenureMonths": 3.0})))
	r := applyOK(t, f, 2, derive(1, derived("C1", map[string]any{"rfmSegment": "none", "valueTier": "high"}, "rfm"), derived("C2", map[string]any{"rfm": "545"})))
	var res fsm.CustomersDeriveResult
	if err := json.Unmarshal(r.Data, &res); err != nil || res.Updated != 2 || res.Missing != 0 || res.Index != 2 {
		t.Fatalf("result %s: %v", r.Data, err)
	}
	// The job's fields over the import's; its unset hides the import's rfm.
	want := "map[rfmSegment:none source:crm valueTier:high]"
	p := mustCustomer(t, f, "C1")
	if fmt.Sprint(p.Derived) != want || p.Attributes["tenureMonths"] != 12.0 || p.Region != "sh" || p.Index != 2 {
		t.Fatalf("C1 = %+v; want derived %v, attributes and region kept, index 2", *p, want)
	}
	if ps, _, err := f.CustomersInRegion("sh", "", 10); err != nil || len(ps) != 1 || fmt.Sprint(ps[0].Derived) != want {
		t.Fatalf("region sh: %+v, %v", ps, err)
	}
	var each []string
	if err := f.EachProfile(func(p *protocol.Profile) error {
		each = append(each, fmt.Sprintf("%s%v", p.ID, p.Derived))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(each) != "[C1"+want+" C2map[rfm:545]]" {
		t.Fatalf("EachProfile: %v", each)
	}
	// A job's next update replaces its last one as a whole.
	applyOK(t, f, 3, derive(2, derived("C1", map[string]any{"rfm": "455"})))
	if p := mustCustomer(t, f, "C1"); fmt.Sprint(p.Derived) != "map[rfm:455 source:crm]" || p.Index != 3 {
		t.Fatalf("after the second run C1 = %+v", *p)
	}
	if got := customerChanges(t, f); fmt.Sprint(got) != "[1:put:C1@sh 1:put:C2@ 2:derive:C1@ 2:derive:C2@ 3:derive:C1@]" {
		t.Errorf("changes %v", got)
	}
	// A re-import keeps what jobs computed, and its change (which agents
	// hold instead of their copy) carries it.
	applyOK(t, f, 4, upsert(customer("C1", "bj", map[string]any{"tenureMonths": 13.0})))
	if p := mustCustomer(t, f, "C1"); fmt.Sprint(p.Derived) != "map[rfm:455 source:crm]" || p.Attributes["tenureMonths"] != 13.0 || p.Region != "bj" || p.Index != 4 {
		t.Fatalf("after re-import C1 = %+v", *p)
	}
	feed, err := f.Changes(3, 0)
	if err != nil || len(feed.Changes) != 1 {
		t.Fatalf("changes after 3: %+v, %v", feed, err)
	}
	var sent protocol.Profile
	if err := json.Unmarshal(feed.Changes[0].Doc, &sent); err != nil || fmt.Sprint(sent.Derived) != "map[rfm:455 source:crm]" || sent.Index != 4 {
		t.Fatalf("the re-import's change carries %s (%v)", feed.Changes[0].Doc, err)
	}
}

func TestCustomers_DeriveAfterAnErasureSkipsTheErasedAndTheErasureDropsComputedFields(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, upsert(customer("C1", "", nil), customer("C2", "", nil)))
	applyOK(t, f, 2, derive(1, derived("C1", map[string]any{"rfm": "222"}), derived("C2", map[string]any{"rfm": "111"})))
	applyOK(t, f, 3, erase("C2"))
	// C2's update left the feed with its profile; C1's, of the same
	// entry, stays.
	if got := customerChanges(t, f); fmt.Sprint(got) != "[1:put:C1@ 2:derive:C1@ 3:delete:C2@]" {
		t.Errorf("changes after the erasure %v", got)
	}
	// A job that read the base before the erasure (at 2) names C2 still.
	r := applyOK(t, f, 4, derive(2, derived("C1", map[string]any{"rfm": "545"}), derived("C2", map[string]any{"rfm": "545"})))
	var res fsm.CustomersDeriveResult
	if err := json.Unmarshal(r.Data, &res); err != nil || res.Updated != 1 || res.Missing != 1 {
		t.Fatalf("result %s: %v", r.Data, err)
	}
	if _, err := f.Customer("C2"); err == nil {
		t.Fatal("a derive brought back an erased customer")
	}
	// Re-imported, C2 starts without the erased customer's fields.
	applyOK(t, f, 5, upsert(customer("C2", "", nil)))
	if p := mustCustomer(t, f, "C2"); len(p.Derived) != 0 {
		t.Fatalf("re-imported C2 = %+v", *p)
	}
	if p := mustCustomer(t, f, "C1"); p.Derived["rfm"] != "545" {
		t.Fatalf("C1 = %+v", *p)
	}
}

func TestCustomers_BadDeriveRefusesTheWholeBatch(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, upsert(customer("C1", "", map[string]any{"a": 1.0}), customer("C2", "", map[string]any{"a": 2.0})))
	big := map[string]any{}
	for i := range protocol.MaxProfileAttributes + 1 {
		big[fmt.Sprintf("f%d", i)] = 1.0
	}
	idx := uint64(1)
	for name, bad := range map[string]fsm.DerivedFields{
		"too many fields": derived("C2", big),
		"set and unset":   derived("C2", map[string]any{"rfm": "1"}, "rfm"),
		"bad id":          derived("C 2", map[string]any{"rfm": "1"}),
	} {
		idx++
		r := apply(t, f, idx, derive(1, derived("C1", map[string]any{"rfm": "111"}), bad))
		if r.Err == nil || r.Err.Code != api.CodeInvalidField {
			t.Fatalf("%s: %+v", name, r.Err)
		}
		if p := mustCustomer(t, f, "C1"); len(p.Derived) != 0 {
			t.Fatalf("%s: a refused batch wrote C1: %v", name, p.Derived)
		}
	}
}

// A Raft log written before the derive payload's version 2 replays as it
// applied: the fields merged into the stored profile.
func TestCustomers_DeriveV1EntriesReplayIntoTheProfile(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, upsert(customer("C1", "sh", map[string]any{"a": 1.0})))
	v1 := fsm.CustomersDeriveV1{Profiles: []protocol.Profile{{ID: "C1", Derived: map[string]any{"rfm": "545"}}, {ID: "C9", Derived: map[string]any{"rfm": "1"}}}}
	r := applyOK(t, f, 2, command{typ: fsm.CmdCustomersDerive, payload: v1})
	var res fsm.CustomersDeriveResult
	if err := json.Unmarshal(r.Data, &res); err != nil || res.Updated != 1 || res.Missing != 1 {
		t.Fatalf("result %s: %v", r.Data, err)
	}
	if p := mustCustomer(t, f, "C1"); p.Derived["rfm"] != "545" || p.Region != "sh" || p.Index != 2 {
		t.Fatalf("C1 = %+v", *p)
	}
	if got := customerChanges(t, f); fmt.Sprint(got) != "[1:put:C1@sh 2:put:C1@sh]" {
		t.Errorf("changes %v", got)
	}
}

// A batch naming a stored customer twice: the second replaces the first,
// both keep the derived fields, and only the last region lists it.
func TestCustomers_RepeatedIDInOneUpsertKeepsDerivedAndTheLastRegion(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, upsert(customer("C1", "sh", map[string]any{"a": 1.0})))
	applyOK(t, f, 2, derive(1, derived("C1", map[string]any{"rfm": "545"})))
	applyOK(t, f, 3, upsert(customer("C1", "bj", map[string]any{"a": 2.0}), customer("C1", "gz", map[string]any{"a": 3.0}), customer("C2", "gz", nil), customer("C2", "sh", nil)))
	if p := mustCustomer(t, f, "C1"); p.Region != "gz" || p.Attributes["a"] != 3.0 || p.Derived["rfm"] != "545" {
		t.Fatalf("C1 = %+v", *p)
	}
	for region, want := range map[string]string{"sh": "[C2]", "bj": "[]", "gz": "[C1]"} {
		ps, _, err := f.CustomersInRegion(region, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, p := range ps {
			ids = append(ids, p.ID)
		}
		if fmt.Sprint(ids) != want {
			t.Errorf("region %s lists %v, want %s", region, ids, want)
		}
	}
}
