package fsm_test

import (
	"maps"
	"testing"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
)

// The ledger counts presented contacts per offer once each (a resent batch
// is not counted again; other outcomes are not counted), and OfferVolumes
// reports the offers that have a volumeCap, at 0 before any presentation.
func TestVolumes_PresentedContactsCountedOncePerOffer(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	capped := fsm.CatalogDoc{Kind: string(protocol.KindOffer), ID: "retain-10",
		Doc: mustJSON(protocol.Offer{Kind: protocol.KindOffer, ID: "retain-10", Category: protocol.CategoryRetention, Value: 60, VolumeCap: 3})}
	phone := fsm.CatalogDoc{Kind: string(protocol.KindOffer), ID: "phone",
		Doc: mustJSON(protocol.Offer{Kind: protocol.KindOffer, ID: "phone", Category: protocol.CategoryUpsell, Value: 20, VolumeCap: 100})}
	applyOK(t, f, 1, catalogApply("r1", capped, phone, offer("plain", 5)))
	if v, err := f.OfferVolumes(); err != nil || !maps.Equal(v, map[string]int64{"retain-10": 0, "phone": 0}) {
		t.Fatalf("before any contact: %v %v", v, err)
	}
	applyOK(t, f, 2, ingest("kiosk-1", 1, 2, 3)) // three presentations of retain-10
	applyOK(t, f, 3, ingest("kiosk-1", 2, 3, 4)) // resent 2 and 3, one new
	declined := contact("ivr-1", 1, "C2")
	declined.Outcome = protocol.OutcomeDeclined
	plain := contact("ivr-1", 2, "C2")
	plain.OfferID = "plain"
	shown := contact("ivr-1", 3, "C3")
	shown.OfferID = "phone"
	applyOK(t, f, 4, command{typ: fsm.CmdEventsIngest, payload: fsm.EventsIngest{AgentID: "ivr-1", Events: []protocol.ContactEvent{declined, plain, shown}}})
	if v, err := f.OfferVolumes(); err != nil || !maps.Equal(v, map[string]int64{"retain-10": 4, "phone": 1}) {
		t.Fatalf("after the contacts: %v %v", v, err)
	}
	// A cap added later counts the presentations made before it.
	plainCapped := fsm.CatalogDoc{Kind: string(protocol.KindOffer), ID: "plain",
		Doc: mustJSON(protocol.Offer{Kind: protocol.KindOffer, ID: "plain", Category: protocol.CategoryRetention, Value: 5, Cost: 5, VolumeCap: 10})}
	applyOK(t, f, 5, catalogApply("r2", plainCapped))
	if v, err := f.OfferVolumes(); err != nil || v["plain"] != 1 || len(v) != 3 {
		t.Fatalf("after capping plain: %v %v", v, err)
	}
}
