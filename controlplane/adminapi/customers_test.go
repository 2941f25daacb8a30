package adminapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func roleClient(t *testing.T, c *cptest.Cluster, node int, role string) *api.Client {
	t.Helper()
	tok, err := c.Client(c.Leader()).CreateToken(context.Background(), api.TokenRequest{Role: role})
	if err != nil {
		t.Fatalf("create %s token: %v", role, err)
	}
	return api.NewClient(c.Nodes[node].URL(), tok.Token, nil)
}

func wantCode(t *testing.T, what string, err error, code api.Code) *api.Error {
	t.Helper()
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != code {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
	return ae
}

func TestCustomersAPI_UpsertShowMaskByRoleListErase(t *testing.T) {
	c := cptest.New(t, 3)
	ctx := context.Background()
	admin := c.Client(c.Follower()) // writes through a follower are forwarded
	res, err := admin.UpsertCustomers(ctx, []protocol.Profile{
		{ID: "C1", Region: "sh", Consents: map[string]bool{"sms": true}, DoNotDisturb: true,
			Attributes: map[string]any{"name": "Li Wei", "phone": "13800000001", "tenureMonths": 12.0}},
		{ID: "C2", Region: "sh", Attributes: map[string]any{"name": "Wang Fang", "phone": "13800000002"}},
		{ID: "C3", Region: "bj"},
	})
	if err != nil || res.Upserted != 3 || res.Index == 0 {
		t.Fatalf("upsert: %+v %v", res, err)
	}

	// Contacts for C1, proposed straight to the leader as the gateway would.
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	var evs []protocol.ContactEvent
	for i := uint64(1); i <= 25; i++ {
		evs = append(evs, protocol.ContactEvent{AgentID: "kiosk-1", Seq: i, Time: base.Add(time.Duration(i) * time.Second),
			CustomerID: "C1", Channel: "kiosk", Type: "offer", Outcome: "presented", OfferID: "retain-10"})
	}
	cmd, err := fsm.Encode(fsm.CmdEventsIngest, 0, fsm.Envelope{Time: time.Now().UnixNano()}, fsm.EventsIngest{AgentID: "kiosk-1", Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.Store(c.Leader()).Apply(ctx, cmd); err != nil || r.Err != nil {
		t.Fatalf("ingest: %v %v", err, r)
	}

	v, err := admin.Customer(ctx, "C1")
	if err != nil {
		t.Fatal(err)
	}
	if v.Masked || v.Attributes["phone"] != "13800000001" || v.Attributes["tenureMonths"] != 12.0 || !v.DoNotDisturb ||
		!v.Consents["sms"] || v.Region != "sh" || v.Index != res.Index {
		t.Errorf("admin view %+v", v)
	}
	if len(v.RecentContacts) != api.RecentContactsLimit || v.RecentContacts[0].Seq != 25 || v.RecentContacts[19].Seq != 6 {
		t.Errorf("recent contacts: %d, first %+v", len(v.RecentContacts), v.RecentContacts[0])
	}

	op := roleClient(t, c, 0, api.RoleOperator)
	v, err = op.Customer(ctx, "C1")
	if err != nil {
		t.Fatal(err)
	}
	if !v.Masked || v.Attributes["phone"] != "13*******01" || v.Attributes["name"] != "L****i" || v.Attributes["tenureMonths"] != 12.0 {
		t.Errorf("operator view not masked: %+v", v.Attributes)
	}
	if len(v.RecentContacts) != api.RecentContactsLimit || v.ContactsHidden {
		t.Errorf("operator reads the ledger: %d contacts, hidden %v", len(v.RecentContacts), v.ContactsHidden)
	}
	viewer := roleClient(t, c, 1, api.RoleViewer)
	v, err = viewer.Customer(ctx, "C1")
	if err != nil {
		t.Fatal(err)
	}
	if !v.Masked || v.Attributes["phone"] != "13*******01" || len(v.RecentContacts) != 0 || !v.ContactsHidden {
		t.Errorf("viewer view: masked=%v attrs=%v contacts=%d hidden=%v", v.Masked, v.Attributes, len(v.RecentContacts), v.ContactsHidden)
	}
	// The JSON has every pinned field, even when empty.
	var raw map[string]json.RawMessage
	if err := viewer.Do(ctx, "GET", "/v1/customers/C3", "", nil, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "region", "attributes", "consents", "doNotDisturb", "derived", "recentContacts", "index", "masked"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("GET /v1/customers/C3 lacks %q: %v", k, raw)
		}
	}

	// Paging a region, masked for non-admins.
	page, err := op.Customers(ctx, "sh", "", 1)
	if err != nil || len(page.Customers) != 1 || page.Customers[0].ID != "C1" || page.Next != "C1" || !page.Masked ||
		page.Customers[0].Attributes["phone"] != "13*******01" {
		t.Fatalf("page 1: %+v %v", page, err)
	}
	page, err = op.Customers(ctx, "sh", page.Next, 1)
	if err != nil || len(page.Customers) != 1 || page.Customers[0].ID != "C2" || page.Next != "" {
		t.Fatalf("page 2: %+v %v", page, err)
	}
	if page, err = admin.Customers(ctx, "sh", "", 0); err != nil || len(page.Customers) != 2 || page.Masked ||
		page.Customers[1].Attributes["phone"] != "13800000002" {
		t.Fatalf("admin page: %+v %v", page, err)
	}

	// The change feed carries the profiles masked too, except for admins.
	for _, who := range []struct {
		cl     *api.Client
		masked bool
	}{{viewer, true}, {op, true}, {admin, false}} {
		feed, err := who.cl.Changes(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, ch := range feed.Changes {
			if ch.Kind != "Customer" || ch.ID != "C1" || ch.Op != api.OpPut {
				continue
			}
			seen++
			clear := strings.Contains(string(ch.Doc), "13800000001") || strings.Contains(string(ch.Doc), "Li Wei")
			if clear == who.masked || !strings.Contains(string(ch.Doc), `"tenureMonths":12`) {
				t.Errorf("change feed (masked %v): %s", who.masked, ch.Doc)
			}
		}
		if seen == 0 {
			t.Fatalf("no change of C1 in the feed: %+v", feed)
		}
	}

	// Only an admin may take what signs agent certificates: a snapshot
	// (the CA key, gossip keys, profiles in the clear) or a node of its own.
	err = op.Do(ctx, "GET", "/v1/cluster/snapshot", "", nil, nil)
	wantCode(t, "operator snapshot save", err, api.CodeForbidden)
	err = op.Do(ctx, "POST", "/v1/cluster/join", "application/json", []byte(`{"id":"rogue","raftAddr":"127.0.0.1:1"}`), nil)
	wantCode(t, "operator join", err, api.CodeForbidden)

	// Roles: viewers and analysts may not write.
	_, err = viewer.UpsertCustomers(ctx, []protocol.Profile{{ID: "C9"}})
	wantCode(t, "viewer upsert", err, api.CodeForbidden)
	_, err = roleClient(t, c, 2, api.RoleAnalyst).EraseCustomer(ctx, "C1")
	wantCode(t, "analyst erase", err, api.CodeForbidden)

	// Erase: gone, and its ledger events no longer name it.
	er, err := op.EraseCustomer(ctx, "C1")
	if err != nil || er.Index <= res.Index || er.AnonymizedEvents != 25 {
		t.Fatalf("erase: %+v %v", er, err)
	}
	_, err = admin.Customer(ctx, "C1")
	wantCode(t, "show erased", err, api.CodeNotFound)
	_, err = admin.EraseCustomer(ctx, "C1")
	wantCode(t, "erase twice", err, api.CodeNotFound)
	if got, err := admin.Contacts(ctx, "C1", "", 0); err != nil || len(got) != 0 {
		t.Errorf("contacts of an erased customer: %d %v", len(got), err)
	}

	// The audit log counts the import and names only the erased id.
	audit, err := admin.Audit(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var sawImport, sawErase bool
	for _, a := range audit {
		sawImport = sawImport || (a.Action == "customers.import" && a.Target == "3 profiles")
		sawErase = sawErase || (a.Action == "customers.erase" && a.Target == "C1" && a.Role == api.RoleOperator)
		if b, _ := json.Marshal(a); strings.Contains(string(b), "13800000001") || strings.Contains(string(b), "Li Wei") {
			t.Errorf("PII in the audit log: %s", b)
		}
	}
	if !sawImport || !sawErase {
		t.Errorf("audit: import %v erase %v\n%+v", sawImport, sawErase, audit)
	}
}

func TestCustomersAPI_BadInputGetsStableCodes(t *testing.T) {
	c := cptest.New(t, 1)
	ctx := context.Background()
	cl := c.Client(0)
	for _, tc := range []struct {
		name string
		body string
		code api.Code
		doc  int // -1: no position
	}{
		{"not json", `{`, api.CodeInvalidJSON, -1},
		{"object", `{"id":"C1"}`, api.CodeInvalidJSON, -1},
		{"empty", `[]`, api.CodeMissingField, -1},
		{"trailing", `[{"id":"C1"}] x`, api.CodeInvalidJSON, -1},
		{"unknown field", `[{"id":"C1"},{"id":"C2","nmae":"x"}]`, api.CodeUnknownField, 1},
		{"wrong type", `[{"id":"C1","doNotDisturb":"yes"}]`, api.CodeInvalidField, 0},
		{"bad id", `[{"id":"C1"},{"id":"C 2"}]`, api.CodeInvalidField, 1},
		{"nested attribute", `[{"id":"C1","attributes":{"x":{"y":1}}}]`, api.CodeInvalidField, 0},
		{"null attribute", `[{"id":"C1","attributes":{"x":null}}]`, api.CodeInvalidField, 0},
		{"bad channel", `[{"id":"C1","consents":{"fax":true}}]`, api.CodeInvalidField, 0},
		{"too long", `[{"id":"C1","attributes":{"x":"` + strings.Repeat("a", protocol.MaxAttributeValue+1) + `"}}]`, api.CodeInvalidField, 0},
	} {
		_, err := cl.UpsertCustomersJSON(ctx, []byte(tc.body))
		ae := wantCode(t, tc.name, err, tc.code)
		if tc.doc >= 0 && (ae.Document == nil || *ae.Document != tc.doc) {
			t.Errorf("%s: located at %v, want profile %d", tc.name, ae.Document, tc.doc)
		}
	}
	big := "[" + strings.Repeat(`{"id":"C1","attributes":{"note":"`+strings.Repeat("x", 4000)+`"}},`, 1100) + `{"id":"C2"}]`
	_, err := cl.UpsertCustomersJSON(ctx, []byte(big))
	wantCode(t, "body over 4 MiB", err, api.CodeBodyTooLarge)
	many := "[" + strings.Repeat(`{"id":"C1"},`, api.MaxCustomersPerRequest) + `{"id":"C2"}]`
	_, err = cl.UpsertCustomersJSON(ctx, []byte(many))
	wantCode(t, "too many profiles", err, api.CodeBodyTooLarge)
	_, err = cl.UpsertCustomersJSON(ctx, []byte(strings.Replace(many, `"id"`, `"ID"`, 1)))
	wantCode(t, "too many profiles, slow path", err, api.CodeBodyTooLarge)
	_, err = cl.Customer(ctx, "nobody")
	wantCode(t, "unknown customer", err, api.CodeNotFound)
	_, err = cl.EraseCustomer(ctx, "nobody")
	wantCode(t, "erase unknown", err, api.CodeNotFound)
	err = cl.Do(ctx, "GET", "/v1/customers", "", nil, nil)
	wantCode(t, "list without region", err, api.CodeMissingField)
	_, err = cl.Customers(ctx, "sh", "", 5000)
	wantCode(t, "list limit", err, api.CodeInvalidField)
	// Nothing was stored by any of it.
	if page, err := cl.Customers(ctx, "", "", 0); err != nil || len(page.Customers) != 0 {
		t.Errorf("stored from refused requests: %+v %v", page, err)
	}
}
