package fsm_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func TestFSM_CatalogApplyReportsActionsAndIndexOfLastChange(t *testing.T) {
	f := openFSM(t, fsm.Config{})

	steps := []struct {
		docs []fsm.CatalogDoc
		want []string // kind/id:action, in document order
	}{
		{[]fsm.CatalogDoc{offer("retain-10", 60), plan("basic", 38)}, []string{"Offer/retain-10:created", "Plan/basic:created"}},
		{[]fsm.CatalogDoc{offer("retain-10", 60), plan("basic", 48)}, []string{"Offer/retain-10:unchanged", "Plan/basic:updated"}},
		{[]fsm.CatalogDoc{offer("retain-10", 60), plan("basic", 48), offer("upsell-5g", 20)}, []string{"Offer/retain-10:unchanged", "Plan/basic:unchanged", "Offer/upsell-5g:created"}},
	}
	for i, s := range steps {
		idx := uint64(i + 1)
		r := applyOK(t, f, idx, catalogApply("", s.docs...))
		ar := applyResult(t, r)
		if ar.Index != idx {
			t.Errorf("step %d: result index %d, want %d", i, ar.Index, idx)
		}
		var got []string
		for _, d := range ar.Documents {
			got = append(got, d.Kind+"/"+d.ID+":"+d.Action)
		}
		if fmt.Sprint(got) != fmt.Sprint(s.want) {
			t.Errorf("step %d: actions %v, want %v", i, got, s.want)
		}
	}

	// Each object carries the index of its last change, not of the last
	// apply that named it.
	for _, c := range []struct {
		kind      protocol.Kind
		id        string
		wantIndex uint64
		wantDoc   json.RawMessage
	}{
		{protocol.KindOffer, "retain-10", 1, offer("retain-10", 60).Doc},
		{protocol.KindPlan, "basic", 2, plan("basic", 48).Doc},
		{protocol.KindOffer, "upsell-5g", 3, offer("upsell-5g", 20).Doc},
	} {
		o, ok := getObject(t, f, c.kind, c.id)
		if !ok {
			t.Errorf("%s/%s not stored", c.kind, c.id)
			continue
		}
		if o.Index != c.wantIndex || string(o.Doc) != string(c.wantDoc) {
			t.Errorf("%s/%s = index %d doc %s, want index %d doc %s", c.kind, c.id, o.Index, o.Doc, c.wantIndex, c.wantDoc)
		}
	}

	// Unchanged documents add nothing to the change feed or the audit log.
	feed, err := f.Changes(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, c := range feed.Changes {
		changes = append(changes, fmt.Sprintf("%d:%s:%s/%s", c.Index, c.Op, c.Kind, c.ID))
	}
	wantChanges := []string{"1:put:Offer/retain-10", "1:put:Plan/basic", "2:put:Plan/basic", "3:put:Offer/upsell-5g"}
	if fmt.Sprint(changes) != fmt.Sprint(wantChanges) {
		t.Errorf("change feed %v, want %v", changes, wantChanges)
	}
	audit, err := f.Audit(0)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		actions = append(actions, fmt.Sprintf("%d:%s:%s", a.Index, a.Action, a.Target))
	}
	// One record per apply: a bulk apply lists what it changed.
	wantAudit := []string{"1:catalog.apply:2 documents", "2:catalog.updated:Plan/basic", "3:catalog.created:Offer/upsell-5g"}
	if fmt.Sprint(actions) != fmt.Sprint(wantAudit) {
		t.Errorf("audit %v, want %v", actions, wantAudit)
	}
	if d := audit[0].Details; d != "created Offer/retain-10; created Plan/basic" {
		t.Errorf("bulk apply audit details %q", d)
	}
	if got, want := audit[0].Time, baseTime.Add(time.Second); !got.Equal(want) {
		t.Errorf("audit time %v, want the leader's stamp %v", got, want)
	}
}

func TestFSM_CatalogApplyWithMissingReferenceIsRejectedAsAWhole(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, catalogApply("", offer("retain-10", 60), plan("basic", 38)))
	before := readState(t, f)

	tests := []struct {
		name      string
		docs      []fsm.CatalogDoc
		wantDoc   int
		wantField string
	}{
		{"campaign names a missing offer", []fsm.CatalogDoc{offer("new-offer", 1), campaign("winback", "retain-10", "missing")}, 1, "offers"},
		{"tariff offer names a missing plan", []fsm.CatalogDoc{plan("new-plan", 1), tariffOffer("move-to-pro", "pro")}, 1, "planId"},
		{"update of an existing object with a missing reference", []fsm.CatalogDoc{tariffOffer("retain-10", "nope")}, 0, "planId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := apply(t, f, before.Applied+1, catalogApply("", tt.docs...))
			if r.Err == nil || r.Err.Code != api.CodeReferenceNotFound {
				t.Fatalf("err = %v, want %s", r.Err, api.CodeReferenceNotFound)
			}
			if r.Err.Document == nil || *r.Err.Document != tt.wantDoc || r.Err.Field != tt.wantField {
				t.Errorf("error located at document %v field %q, want %d %q", r.Err.Document, r.Err.Field, tt.wantDoc, tt.wantField)
			}
			after := readState(t, f)
			// The entry is applied (its index is recorded) but nothing it
			// carried is stored.
			if after.Applied != before.Applied+1 {
				t.Errorf("applied = %d, want %d", after.Applied, before.Applied+1)
			}
			after.Applied = before.Applied
			assertSameState(t, after, before)
			before = readState(t, f)
		})
	}
}

func TestFSM_CatalogApplyAcceptsReferencesSatisfiedInTheSameApply(t *testing.T) {
	tests := []struct {
		name string
		docs []fsm.CatalogDoc
	}{
		{"referenced offer after the campaign", []fsm.CatalogDoc{campaign("winback", "retain-10"), offer("retain-10", 60)}},
		{"referenced offer before the campaign", []fsm.CatalogDoc{offer("retain-10", 60), campaign("winback", "retain-10")}},
		{"plan and tariff offer together", []fsm.CatalogDoc{tariffOffer("move-to-pro", "pro"), plan("pro", 98)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := openFSM(t, fsm.Config{})
			applyOK(t, f, 1, catalogApply("", tt.docs...))
			for _, d := range tt.docs {
				o, ok := getObject(t, f, protocol.Kind(d.Kind), d.ID)
				if !ok || string(o.Doc) != string(d.Doc) || o.Index != 1 {
					t.Errorf("%s/%s: found=%v index=%d doc=%s", d.Kind, d.ID, ok, o.Index, o.Doc)
				}
			}
		})
	}
}

func TestFSM_CatalogApplyRejectsDocumentsThatAreNotCatalogueObjects(t *testing.T) {
	tests := []struct {
		name string
		doc  fsm.CatalogDoc
	}{
		{"unknown kind", fsm.CatalogDoc{Kind: "Coupon", ID: "c1", Doc: json.RawMessage(`{}`)}},
		{"empty id", fsm.CatalogDoc{Kind: "Offer", ID: "", Doc: json.RawMessage(`{}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := openFSM(t, fsm.Config{})
			r := apply(t, f, 1, catalogApply("", offer("ok", 1), tt.doc))
			if r.Err == nil || r.Err.Code != api.CodeInvalidDocument || r.Err.Document == nil || *r.Err.Document != 1 {
				t.Fatalf("err = %v, want %s at document 1", r.Err, api.CodeInvalidDocument)
			}
			if objs, _ := f.List(string(protocol.KindOffer)); len(objs) != 0 {
				t.Errorf("offers stored after a rejected apply: %v", objs)
			}
		})
	}
}

func TestFSM_CatalogDelete(t *testing.T) {
	seed := catalogApply("",
		plan("pro", 98), tariffOffer("move-to-pro", "pro"),
		offer("retain-10", 60), campaign("winback", "retain-10"),
		offer("lonely", 1), plan("unused", 10))
	tests := []struct {
		name     string
		kind     protocol.Kind
		id       string
		wantCode api.Code // "" means success
	}{
		{"missing object", protocol.KindOffer, "nope", api.CodeNotFound},
		{"missing kind of an existing id", protocol.KindCampaign, "retain-10", api.CodeNotFound},
		{"unknown kind", "Coupon", "retain-10", api.CodeUnknownKind},
		{"offer a campaign names", protocol.KindOffer, "retain-10", api.CodeInUse},
		{"plan a tariff offer names", protocol.KindPlan, "pro", api.CodeInUse},
		{"unreferenced offer", protocol.KindOffer, "lonely", ""},
		{"unreferenced plan", protocol.KindPlan, "unused", ""},
		{"campaign", protocol.KindCampaign, "winback", ""},
		{"tariff offer", protocol.KindOffer, "move-to-pro", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := openFSM(t, fsm.Config{})
			applyOK(t, f, 1, seed)
			before := readState(t, f)
			r := apply(t, f, 2, catalogDelete("", tt.kind, tt.id))
			if tt.wantCode != "" {
				if r.Err == nil || r.Err.Code != tt.wantCode {
					t.Fatalf("err = %v, want %s", r.Err, tt.wantCode)
				}
				after := readState(t, f)
				after.Applied = before.Applied
				assertSameState(t, after, before)
				return
			}
			if r.Err != nil {
				t.Fatalf("delete: %v", r.Err)
			}
			if _, ok := getObject(t, f, tt.kind, tt.id); ok {
				t.Errorf("%s/%s still stored after delete", tt.kind, tt.id)
			}
			feed, err := f.Changes(1, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(feed.Changes) != 1 || fmt.Sprint(feed.Changes[0]) != fmt.Sprint(api.Change{Index: 2, Op: api.OpDelete, Kind: string(tt.kind), ID: tt.id}) {
				t.Errorf("change feed after delete = %+v", feed.Changes)
			}
		})
	}
}

func TestFSM_CatalogDeleteAllowedOnceReferrerIsGone(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, catalogApply("", offer("retain-10", 60), offer("other", 1), campaign("winback", "retain-10")))
	if r := apply(t, f, 2, catalogDelete("", protocol.KindOffer, "retain-10")); r.Err == nil || r.Err.Code != api.CodeInUse {
		t.Fatalf("delete referenced offer: err = %v, want %s", r.Err, api.CodeInUse)
	}
	// Repoint the campaign; the offer is free.
	applyOK(t, f, 3, catalogApply("", campaign("winback", "other")))
	if r := apply(t, f, 4, catalogDelete("", protocol.KindOffer, "retain-10")); r.Err != nil {
		t.Fatalf("delete offer no campaign names: %v", r.Err)
	}
	if r := apply(t, f, 5, catalogDelete("", protocol.KindOffer, "retain-10")); r.Err == nil || r.Err.Code != api.CodeNotFound {
		t.Fatalf("second delete: err = %v, want %s", r.Err, api.CodeNotFound)
	}
}
