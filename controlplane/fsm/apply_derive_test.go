package fsm_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func derive(profiles ...protocol.Profile) command {
	return command{typ: fsm.CmdCustomersDerive, payload: fsm.CustomersDerive{Profiles: profiles}}
}

func derived(id string, fields map[string]any) protocol.Profile {
	return protocol.Profile{ID: id, Derived: fields}
}

func TestCustomers_DeriveMergesComputedFieldsAndSkipsUnknownCustomers(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, upsert(customer("C1", "sh", map[string]any{"tenureMonths": 12.0}), customer("C2", "", map[string]any{"tenureMonths": 3.0})))
	r := applyOK(t, f, 2, derive(derived("C1", map[string]any{"rfm": "545", "valueTier": "high"}), derived("C9", map[string]any{"rfm": "111"})))
	var res fsm.CustomersDeriveResult
	if err := json.Unmarshal(r.Data, &res); err != nil || res.Updated != 1 || res.Missing != 1 || res.Index != 2 {
		t.Fatalf("result %s: %v", r.Data, err)
	}
	// A second job replaces its own fields and keeps the others.
	applyOK(t, f, 3, derive(derived("C1", map[string]any{"valueTier": "medium", "clv": 812.5})))
	p := mustCustomer(t, f, "C1")
	want := map[string]any{"rfm": "545", "valueTier": "medium", "clv": 812.5}
	if fmt.Sprint(p.Derived) != fmt.Sprint(want) || p.Attributes["tenureMonths"] != 12.0 || p.Region != "sh" || p.Index != 3 {
		t.Fatalf("C1 = %+v; want derived %v, attributes and region kept, index 3", *p, want)
	}
	if _, err := f.Customer("C9"); err == nil {
		t.Fatal("a derive created a customer")
	}
	if got := customerChanges(t, f); fmt.Sprint(got) != "[1:put:C1@sh 1:put:C2@ 2:put:C1@sh 3:put:C1@sh]" {
		t.Errorf("changes %v", got)
	}
	// A re-import keeps what the control plane derived, unless it brings
	// derived fields of its own.
	applyOK(t, f, 4, upsert(customer("C1", "bj", map[string]any{"tenureMonths": 13.0})))
	if p := mustCustomer(t, f, "C1"); fmt.Sprint(p.Derived) != fmt.Sprint(want) || p.Attributes["tenureMonths"] != 13.0 || p.Region != "bj" {
		t.Fatalf("after re-import C1 = %+v", *p)
	}
	own := customer("C1", "bj", map[string]any{"tenureMonths": 14.0})
	own.Derived = map[string]any{"clv": 1.0}
	applyOK(t, f, 5, upsert(own))
	if p := mustCustomer(t, f, "C1"); fmt.Sprint(p.Derived) != "map[clv:1]" {
		t.Fatalf("an upsert's own derived fields did not replace: %v", p.Derived)
	}
}

func TestCustomers_BadDeriveRefusesTheWholeBatch(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, upsert(customer("C1", "", map[string]any{"a": 1.0}), customer("C2", "", map[string]any{"a": 2.0})))
	big := map[string]any{}
	for i := range protocol.MaxProfileAttributes {
		big[fmt.Sprintf("f%d", i)] = 1.0
	}
	r := apply(t, f, 2, derive(derived("C1", map[string]any{"rfm": "111"}), derived("C2", big)))
	if r.Err == nil || r.Err.Code != api.CodeInvalidField {
		t.Fatalf("derive past the attribute limit: %+v", r.Err)
	}
	if p := mustCustomer(t, f, "C1"); len(p.Derived) != 0 {
		t.Fatalf("a refused batch wrote C1: %v", p.Derived)
	}
}

// A batch naming a stored customer twice: the second replaces the first,
// both keep the derived fields, and only the last region lists it.
func TestCustomers_RepeatedIDInOneUpsertKeepsDerivedAndTheLastRegion(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, upsert(customer("C1", "sh", map[string]any{"a": 1.0})))
	applyOK(t, f, 2, derive(derived("C1", map[string]any{"rfm": "545"})))
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
