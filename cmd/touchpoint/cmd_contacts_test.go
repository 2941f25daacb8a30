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

// --limit is 1 to 100000 (what the API serves); unset, it is 1000. The
// query asks for one more, to learn whether more follow (not past the
// API's maximum).
func TestContactsQuery_LimitOutsideItsRangeIsAUsageError(t *testing.T) {
	f := newFakeAPI(t, map[string]any{"GET /v1/contacts": []any{}})
	checkFlagCases(t, f, []flagCase{
		{line: "contacts query --customer C1", wantReq: "GET /v1/contacts?customer=C1&limit=1001"},
		{line: "contacts query --customer C1 --limit 1", wantReq: "GET /v1/contacts?customer=C1&limit=2"},
		{line: "contacts query --customer C1 --limit 99999", wantReq: "GET /v1/contacts?customer=C1&limit=100000"},
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

// A customer id the cluster could never hold is a usage error, asking
// nothing (it used to print an empty table and exit 0); the ledger's
// bucket of erased customers can be queried.
func TestContactsQuery_InvalidCustomerIDIsAUsageError(t *testing.T) {
	f := newFakeAPI(t, map[string]any{"GET /v1/contacts": []any{}})
	checkFlagCases(t, f, []flagCase{
		{line: "contacts query --customer a/b", wantErr: `error: usage: --customer "a/b": a customer id is 1 to 128 ASCII letters, digits, '-', '_' or '.'`},
		{line: "contacts query --customer .. -o json", wantErr: `error: usage: --customer "..": a customer id`},
		{line: "contacts query --customer ~erased", wantReq: "GET /v1/contacts?customer=~erased&limit=1001"},
	})
	if _, errs, code := tp(t, f.url, "tok", "contacts", "query", "--customer", "a b"); code == 0 || !strings.Contains(errs, `error: usage: --customer "a b"`) {
		t.Errorf("--customer \"a b\": exit %d, stderr %q", code, errs)
	}
	if reqs := f.requests(); len(reqs) != 0 {
		t.Errorf("an invalid id asked the API: %v", reqs)
	}
}

// When more contacts follow than --limit shows, stdout holds --limit of
// them (the table, or the JSON array as before) and stderr says so, with
// the --since of the next page: the time of the first one left out. At the
// API's maximum the CLI cannot ask for one more: a full answer says more
// may follow.
func TestContactsQuery_SaysWhenMoreFollowAndWhereTheNextPageStarts(t *testing.T) {
	t.Setenv("TOUCHPOINT_LANG", "en")
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	var evs []protocol.ContactEvent
	for i := range 3 {
		evs = append(evs, protocol.ContactEvent{AgentID: "kiosk-1", Seq: uint64(i + 1), Time: t0.Add(time.Duration(i)*time.Second + 5*time.Millisecond),
			CustomerID: "C1", Channel: "kiosk", Type: "offer", Outcome: "presented"})
	}
	f := newFakeAPI(t, map[string]any{"GET /v1/contacts": evs}) // the fake ignores limit: it answers 3
	out, errs, code := tp(t, f.url, "tok", "contacts", "query", "--customer", "C1", "--limit", "2")
	if code != 0 || strings.Count(out, "kiosk-1") != 2 || strings.Contains(out, "09:00:02") {
		t.Errorf("table: exit %d:\n%s", code, out)
	}
	if want := "note: only the oldest 2 contacts are shown; more follow. Next page: --since 2025-03-01T09:00:02.005Z; the newest: --since 24h"; !strings.Contains(errs, want) {
		t.Errorf("stderr %q, want %q", errs, want)
	}
	out, errs, code = tp(t, f.url, "tok", "contacts", "query", "--customer", "C1", "--limit", "2", "-o", "json")
	var got []protocol.ContactEvent
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || !reflect.DeepEqual(got, evs[:2]) {
		t.Errorf("json: exit %d %v:\n%s", code, err, out)
	}
	if !strings.Contains(errs, "Next page: --since 2025-03-01T09:00:02.005Z") {
		t.Errorf("json stderr %q", errs)
	}
	// All of them fit: no notice.
	if _, errs, _ = tp(t, f.url, "tok", "contacts", "query", "--customer", "C1", "--limit", "3"); errs != "" {
		t.Errorf("stderr %q with every contact shown", errs)
	}
}

// At --limit 100000 the CLI cannot ask for one more: a full answer says
// more may follow, from the last one's time.
func TestContactsQuery_AFullAnswerAtTheMaximumSaysMoreMayFollow(t *testing.T) {
	t.Setenv("TOUCHPOINT_LANG", "en")
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	evs := make([]protocol.ContactEvent, maxContactsLimit)
	for i := range evs {
		evs[i] = protocol.ContactEvent{AgentID: "kiosk-1", Seq: uint64(i + 1), Time: t0.Add(time.Duration(i) * time.Millisecond),
			CustomerID: "C1", Channel: "kiosk", Type: "offer", Outcome: "presented"}
	}
	f := newFakeAPI(t, map[string]any{"GET /v1/contacts": evs})
	_, errs, code := tp(t, f.url, "tok", "contacts", "query", "--customer", "C1", "--limit", "100000", "-o", "json")
	if want := "note: 100000 contacts shown, the most one query returns; more may follow. Next page: --since 2025-03-01T09:01:39.999Z"; code != 0 || !strings.Contains(errs, want) {
		t.Errorf("exit %d, stderr %q, want %q", code, errs, want)
	}
}
