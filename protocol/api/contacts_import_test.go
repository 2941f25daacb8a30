package api_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func TestCheckImportEvent_NamesTheFieldAtFault(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	good := func() protocol.ContactEvent {
		return protocol.ContactEvent{Seq: 1, Time: time.Date(1997, 1, 1, 0, 0, 0, 0, time.UTC), CustomerID: "00001",
			Channel: api.ChannelStore, Type: protocol.ContactTransaction, Outcome: protocol.OutcomeAccepted, Value: 11.77}
	}
	for _, tc := range []struct {
		name    string
		spoil   func(ev *protocol.ContactEvent)
		field   string
		problem string // part of it
	}{
		{"a store purchase", func(*protocol.ContactEvent) {}, "", ""},
		{"every field filled", func(ev *protocol.ContactEvent) {
			ev.Channel, ev.Type, ev.Outcome, ev.OfferID, ev.CampaignID, ev.DecisionID = "kiosk", "offer", "presented", "retain-10 · 十", "q4", "d-1"
		}, "", ""},
		{"value 0", func(ev *protocol.ContactEvent) { ev.Value = 0 }, "", ""},
		{"value 1e12", func(ev *protocol.ContactEvent) { ev.Value = 1e12 }, "", ""},
		{"the first instant of 1970", func(ev *protocol.ContactEvent) { ev.Time = time.Unix(0, 0) }, "", ""},
		{"within the clock skew", func(ev *protocol.ContactEvent) { ev.Time = now.Add(api.MaxImportFuture) }, "", ""},
		{"the agent id is not checked", func(ev *protocol.ContactEvent) { ev.AgentID = "anything" }, "", ""},

		{"seq 0", func(ev *protocol.ContactEvent) { ev.Seq = 0 }, "seq", "row numbers start at 1"},
		{"no customer", func(ev *protocol.ContactEvent) { ev.CustomerID = "" }, "customerId", "is required"},
		{"customer with a slash", func(ev *protocol.ContactEvent) { ev.CustomerID = "a/b" }, "customerId", `"a/b": a customer id is`},
		{"customer too long", func(ev *protocol.ContactEvent) { ev.CustomerID = strings.Repeat("c", 129) }, "customerId", "…"},
		{"no time", func(ev *protocol.ContactEvent) { ev.Time = time.Time{} }, "time", "is required"},
		{"before 1970", func(ev *protocol.ContactEvent) { ev.Time = time.Unix(0, 0).Add(-time.Nanosecond) }, "time", "before 1970"},
		{"1900", func(ev *protocol.ContactEvent) { ev.Time = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC) }, "time", "before 1970"},
		{"in the future", func(ev *protocol.ContactEvent) { ev.Time = now.Add(api.MaxImportFuture + time.Second) }, "time", "in the future (the cluster's clock reads 2026-12-01T09:00:00Z)"},
		{"no channel", func(ev *protocol.ContactEvent) { ev.Channel = "" }, "channel", `"": channels are store, kiosk`},
		{"channel all", func(ev *protocol.ContactEvent) { ev.Channel = protocol.ChannelAll }, "channel", "channels are"},
		{"unknown type", func(ev *protocol.ContactEvent) { ev.Type = "purchase" }, "type", `"purchase": types are offer, inquiry`},
		{"holdout", func(ev *protocol.ContactEvent) { ev.Outcome = protocol.OutcomeHoldout }, "outcome", "cannot be imported"},
		{"unknown outcome", func(ev *protocol.ContactEvent) { ev.Outcome = "bought" }, "outcome", `"bought": outcomes are`},
		{"negative value", func(ev *protocol.ContactEvent) { ev.Value = -0.01 }, "value", "from 0 to 1e12"},
		{"NaN value", func(ev *protocol.ContactEvent) { ev.Value = math.NaN() }, "value", "from 0 to 1e12"},
		{"infinite value", func(ev *protocol.ContactEvent) { ev.Value = math.Inf(1) }, "value", "from 0 to 1e12"},
		{"value over 1e12", func(ev *protocol.ContactEvent) { ev.Value = 1.000001e12 }, "value", "from 0 to 1e12"},
		{"offer id with a newline", func(ev *protocol.ContactEvent) { ev.OfferID = "a\nb" }, "offerId", "without control characters"},
		{"campaign id with a space before", func(ev *protocol.ContactEvent) { ev.CampaignID = " q4" }, "campaignId", "surrounding spaces"},
		{"decision id too long", func(ev *protocol.ContactEvent) { ev.DecisionID = strings.Repeat("d", 129) }, "decisionId", "1 to 128 bytes"},
		{"offer id not UTF-8", func(ev *protocol.ContactEvent) { ev.OfferID = "\xff" }, "offerId", "1 to 128 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := good()
			tc.spoil(&ev)
			field, problem := api.CheckImportEvent(&ev, now)
			if field != tc.field || !strings.Contains(problem, tc.problem) || (tc.field == "") != (problem == "") {
				t.Errorf("CheckImportEvent = %q, %q; want %q and a problem saying %q", field, problem, tc.field, tc.problem)
			}
		})
	}
}
