package main

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// --limit is 1 to 100000 (what the API serves); unset, it is 1000.
func TestContactsQuery_LimitOutsideItsRangeIsAUsageError(t *testing.T) {
	f := newFakeAPI(t, map[string]any{"GET /v1/contacts": []any{}})
	checkFlagCases(t, f, []flagCase{
		{line: "contacts query --customer C1", wantReq: "GET /v1/contacts?customer=C1&limit=1000"},
		{line: "contacts query --customer C1 --limit 1", wantReq: "GET /v1/contacts?customer=C1&limit=1"},
		{line: "contacts query --customer C1 --limit 100000", wantReq: "GET /v1/contacts?customer=C1&limit=100000"},
		{line: "contacts query --customer C1 --limit 0", wantErr: "error: usage: --limit 0: must be between 1 and 100000"},
		{line: "contacts query --customer C1 --limit -1", wantErr: "error: usage: --limit -1: must be between 1 and 100000"},
		{line: "contacts query --customer C1 --limit 100001", wantErr: "error: usage: --limit 100001: must be between 1 and 100000"},
	})
}

// contactsFixture is two ledger events: one with every field, one with
// only those an agent must fill.
var contactsFixture = []protocol.ContactEvent{
	{AgentID: "kiosk-1", Seq: 7, Time: time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC), CustomerID: "C1", Channel: "kiosk", Type: "offer",
		Outcome: "accepted", DecisionID: "d-0123456789abcdef01234567", CampaignID: "spring-retain", OfferID: "retain-10", Value: 30},
	{AgentID: "ivr-1", Seq: 2, Time: time.Date(2025, 3, 2, 10, 0, 0, 0, time.UTC), CustomerID: "C1", Channel: "ivr", Type: "service", Outcome: "presented"},
}

// assertContactTable checks the contact table in out, the same for
// contacts query and customers show.
func assertContactTable(t *testing.T, out string) {
	t.Helper()
	lines := map[string][]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines[f[0]] = f
		}
	}
	for key, want := range map[string][]string{
		"TIME":                 {"TIME", "AGENT", "CHANNEL", "TYPE", "OUTCOME", "CAMPAIGN", "OFFER", "VALUE", "(CNY)", "DECISION", "SEQ"},
		"2025-03-01T09:30:00Z": {"2025-03-01T09:30:00Z", "kiosk-1", "kiosk", "offer", "accepted", "spring-retain", "retain-10", "30.00", "d-01234567…", "7"},
		"2025-03-02T10:00:00Z": {"2025-03-02T10:00:00Z", "ivr-1", "ivr", "service", "presented", "-", "-", "-", "-", "2"},
	} {
		if !slices.Equal(lines[key], want) {
			t.Errorf("line %v, want %v; table:\n%s", lines[key], want, out)
		}
	}
}

func TestContactsQuery_TableShowsCampaignValueAndDecision(t *testing.T) {
	t.Setenv("TOUCHPOINT_LANG", "en")
	f := newFakeAPI(t, map[string]any{"GET /v1/contacts": contactsFixture})
	table := mustTP(t, f.url, "tok", "contacts", "query", "--customer", "C1")
	assertContactTable(t, table)
	t.Logf("touchpoint contacts query --customer C1:\n%s", table)

	// -o json is the API's answer, whole decision id included.
	out := mustTP(t, f.url, "tok", "contacts", "query", "--customer", "C1", "-o", "json")
	var got []protocol.ContactEvent
	if err := json.Unmarshal([]byte(out), &got); err != nil || !reflect.DeepEqual(got, contactsFixture) {
		t.Errorf("json %s (%v); want the events as served", out, err)
	}
}

func TestCustomersShow_RecentContactsUseTheContactTable(t *testing.T) {
	t.Setenv("TOUCHPOINT_LANG", "en")
	f := newFakeAPI(t, map[string]any{"GET /v1/customers/C1": api.CustomerView{ID: "C1", Region: "north", RecentContacts: contactsFixture}})
	out := mustTP(t, f.url, "tok", "customers", "show", "C1")
	_, contacts, ok := strings.Cut(out, "recent contacts (newest first):\n")
	if !ok {
		t.Fatalf("no recent contacts:\n%s", out)
	}
	assertContactTable(t, contacts)
}

func TestShortID_CutsLongIDsOnly(t *testing.T) {
	for id, want := range map[string]string{
		"":                           "",
		"d-1":                        "d-1",
		"d-012345678":                "d-012345678", // 11: cutting would save nothing
		"d-0123456789":               "d-01234567…",
		"d-0123456789abcdef01234567": "d-01234567…",
		"决策决策决策决策决策决策":               "决策决策决策决策决策…",
	} {
		if got := shortID(id); got != want {
			t.Errorf("shortID(%q) = %q, want %q", id, got, want)
		}
	}
}
