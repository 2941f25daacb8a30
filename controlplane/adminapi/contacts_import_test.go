package adminapi_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/adminapi"
	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// importNow is the clock of importAPI's control plane.
var importNow = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// importAPI serves the admin API of a one-node cluster whose clock reads
// importNow; it answers an admin client, and a client of role with role.
func importAPI(t *testing.T) (admin *api.Client, with func(role string) *api.Client, f *fsm.FSM) {
	t.Helper()
	f, err := fsm.Open(fsm.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	st := &soloStore{f: f}
	cmd, err := fsm.Encode(fsm.CmdInitCluster, 0, fsm.Envelope{Time: importNow.UnixNano(), Actor: "test", Role: api.RoleAdmin},
		fsm.InitCluster{ClusterID: "tp-test", TokenID: "tok-admin", TokenHash: adminapi.HashToken("admin-secret")})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := st.Apply(context.Background(), cmd); r.Err != nil {
		t.Fatal(r.Err)
	}
	srv := httptest.NewServer(adminapi.New(adminapi.Config{Now: func() time.Time { return importNow }}, st, f))
	t.Cleanup(srv.Close)
	admin = api.NewClient(srv.URL, "admin-secret", nil)
	with = func(role string) *api.Client {
		t.Helper()
		tok, err := admin.CreateToken(context.Background(), api.TokenRequest{Role: role})
		if err != nil {
			t.Fatalf("create %s token: %v", role, err)
		}
		return api.NewClient(srv.URL, tok.Token, nil)
	}
	return admin, with, f
}

// importRows are rows from to to of a source: daily purchases of C1 from
// 2024-01-01.
func importRows(from, to uint64) []protocol.ContactEvent {
	var evs []protocol.ContactEvent
	for s := from; s <= to; s++ {
		evs = append(evs, protocol.ContactEvent{Seq: s, Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(s)),
			CustomerID: "C1", Channel: api.ChannelStore, Type: protocol.ContactTransaction, Outcome: protocol.OutcomeAccepted, Value: float64(s)})
	}
	return evs
}

// ledgerHolds is the received count and highest sequence of a ledger id
// (0, 0 when it has none).
func ledgerHolds(t *testing.T, f *fsm.FSM, id string) (received, highest uint64) {
	t.Helper()
	_, agents, err := f.ContactStats()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range agents {
		if a.AgentID == id {
			return a.Received, a.HighestSequence
		}
	}
	return 0, 0
}

// Rows are stored under import.<source> with their row numbers; a resend
// is counted as duplicates and stores nothing; a batch that skips rows is
// sequence_gap; each batch that stores rows writes one ledger.import audit
// record.
func TestContactsImport_StoresRowsDropsDuplicatesRefusesGaps(t *testing.T) {
	admin, with, f := importAPI(t)
	ctx := context.Background()
	res, err := admin.ImportContacts(ctx, api.ContactsImport{Source: "till", Events: importRows(1, 3)})
	if err != nil || res.Source != "till" || res.LedgerID != "import.till" || res.Stored != 3 || res.Duplicates != 0 || res.HighestSeq != 3 || res.Index == 0 {
		t.Fatalf("first batch: %+v %v", res, err)
	}
	evs, err := admin.Contacts(ctx, "C1", "", 0)
	if err != nil || len(evs) != 3 || evs[0].AgentID != "import.till" || evs[2].Seq != 3 || evs[2].Value != 3 {
		t.Fatalf("C1's contacts: %+v %v", evs, err)
	}

	// A resend of rows 1–3 with row 4: three duplicates, one stored. An
	// operator may import; agentId may name the ledger id itself.
	batch := importRows(1, 4)
	batch[3].AgentID = "import.till"
	res, err = with(api.RoleOperator).ImportContacts(ctx, api.ContactsImport{Source: "till", Events: batch})
	if err != nil || res.Stored != 1 || res.Duplicates != 3 || res.HighestSeq != 4 {
		t.Fatalf("resend with one new row: %+v %v", res, err)
	}
	res, err = admin.ImportContacts(ctx, api.ContactsImport{Source: "till", Events: importRows(1, 4)})
	if err != nil || res.Stored != 0 || res.Duplicates != 4 || res.HighestSeq != 4 {
		t.Fatalf("resend of everything: %+v %v", res, err)
	}
	_, err = admin.ImportContacts(ctx, api.ContactsImport{Source: "till", Events: importRows(6, 7)})
	wantCode(t, "rows 6-7 after 4", err, fsm.CodeSequenceGap)
	if got, high := ledgerHolds(t, f, "import.till"); got != 4 || high != 4 {
		t.Errorf("ledger holds %d rows through %d; want 4 through 4", got, high)
	}
	// Another source numbers its rows apart.
	if res, err := admin.ImportContacts(ctx, api.ContactsImport{Source: "web.2024", Events: importRows(1, 1)}); err != nil || res.Stored != 1 || res.LedgerID != "import.web.2024" {
		t.Fatalf("second source: %+v %v", res, err)
	}
	audit, err := f.Audit(100)
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, a := range audit {
		if a.Action == "ledger.import" {
			details = append(details, a.Target+" "+a.Details)
		}
	}
	if want := []string{"import.till rows 1-3 stored", "import.till rows 4-4 stored", "import.web.2024 rows 1-1 stored"}; strings.Join(details, "; ") != strings.Join(want, "; ") {
		t.Errorf("ledger.import audit: %q; want %q", details, want)
	}
}

// What the handler refuses before anything is proposed: nothing of a
// refused request is stored.
func TestContactsImport_RefusesBadRequests(t *testing.T) {
	admin, with, f := importAPI(t)
	ctx := context.Background()
	many := make([]protocol.ContactEvent, api.MaxImportEvents+1)
	for i := range many {
		many[i] = importRows(uint64(i+1), uint64(i+1))[0]
	}
	for _, tc := range []struct {
		name  string
		req   api.ContactsImport
		code  api.Code
		field string
	}{
		{"missing source", api.ContactsImport{Events: importRows(1, 1)}, api.CodeMissingField, "source"},
		{"source with a space", api.ContactsImport{Source: "a b", Events: importRows(1, 1)}, api.CodeInvalidField, "source"},
		{"source ..", api.ContactsImport{Source: "..", Events: importRows(1, 1)}, api.CodeInvalidField, "source"},
		{"source too long", api.ContactsImport{Source: strings.Repeat("s", api.MaxImportSource+1), Events: importRows(1, 1)}, api.CodeInvalidField, "source"},
		{"no events", api.ContactsImport{Source: "s"}, api.CodeMissingField, "events"},
		{"too many events", api.ContactsImport{Source: "s", Events: many}, api.CodeBodyTooLarge, ""},
	} {
		_, err := admin.ImportContacts(ctx, tc.req)
		if ae := wantCode(t, tc.name, err, tc.code); ae.Field != tc.field {
			t.Errorf("%s: field %q, want %q", tc.name, ae.Field, tc.field)
		}
	}
	// The longest source is accepted.
	if _, err := admin.ImportContacts(ctx, api.ContactsImport{Source: strings.Repeat("s", api.MaxImportSource), Events: importRows(1, 1)}); err != nil {
		t.Fatalf("a %d-byte source: %v", api.MaxImportSource, err)
	}

	// A bad row anywhere refuses the batch, located by its index.
	for _, tc := range []struct {
		name  string
		spoil func(ev *protocol.ContactEvent)
		field string
	}{
		{"another agent's id", func(ev *protocol.ContactEvent) { ev.AgentID = "kiosk-1" }, "agentId"},
		{"another source's id", func(ev *protocol.ContactEvent) { ev.AgentID = "import.other" }, "agentId"},
		{"seq 0", func(ev *protocol.ContactEvent) { ev.Seq = 0 }, "seq"},
		{"no customer", func(ev *protocol.ContactEvent) { ev.CustomerID = "" }, "customerId"},
		{"bad customer", func(ev *protocol.ContactEvent) { ev.CustomerID = "C 1" }, "customerId"},
		{"no time", func(ev *protocol.ContactEvent) { ev.Time = time.Time{} }, "time"},
		{"before 1970", func(ev *protocol.ContactEvent) { ev.Time = time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC) }, "time"},
		{"past the clock", func(ev *protocol.ContactEvent) { ev.Time = importNow.Add(api.MaxImportFuture + time.Second) }, "time"},
		{"unknown channel", func(ev *protocol.ContactEvent) { ev.Channel = "fax" }, "channel"},
		{"no channel", func(ev *protocol.ContactEvent) { ev.Channel = "" }, "channel"},
		{"channel all", func(ev *protocol.ContactEvent) { ev.Channel = protocol.ChannelAll }, "channel"},
		{"unknown type", func(ev *protocol.ContactEvent) { ev.Type = "visit" }, "type"},
		{"holdout", func(ev *protocol.ContactEvent) { ev.Outcome = protocol.OutcomeHoldout }, "outcome"},
		{"unknown outcome", func(ev *protocol.ContactEvent) { ev.Outcome = "bought" }, "outcome"},
		{"negative value", func(ev *protocol.ContactEvent) { ev.Value = -0.01 }, "value"},
		{"huge value", func(ev *protocol.ContactEvent) { ev.Value = 2e12 }, "value"},
		{"offer id with a control character", func(ev *protocol.ContactEvent) { ev.OfferID = "retain\n10" }, "offerId"},
		{"campaign id with spaces around", func(ev *protocol.ContactEvent) { ev.CampaignID = " q4 " }, "campaignId"},
		{"decision id too long", func(ev *protocol.ContactEvent) { ev.DecisionID = strings.Repeat("d", 129) }, "decisionId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			batch := importRows(1, 5)
			tc.spoil(&batch[2])
			_, err := admin.ImportContacts(ctx, api.ContactsImport{Source: "bad", Events: batch})
			ae := wantCode(t, tc.name, err, api.CodeInvalidField)
			if ae.Document == nil || *ae.Document != 2 || ae.Field != tc.field {
				t.Errorf("%s: %v; want document 2, field %s", tc.name, ae, tc.field)
			}
			if got, _ := ledgerHolds(t, f, "import.bad"); got != 0 {
				t.Errorf("%s: a refused batch stored %d rows", tc.name, got)
			}
		})
	}

	// Roles that may not import.
	for _, role := range []string{api.RoleViewer, api.RoleAnalyst} {
		_, err := with(role).ImportContacts(ctx, api.ContactsImport{Source: "roles", Events: importRows(1, 1)})
		if ae := wantCode(t, role, err, api.CodeForbidden); !strings.Contains(ae.Message, "role "+role) {
			t.Errorf("%s: %q", role, ae.Message)
		}
	}
	if got, _ := ledgerHolds(t, f, "import.roles"); got != 0 {
		t.Errorf("a forbidden import stored %d rows", got)
	}
	// Unknown fields are refused: the body is strict.
	err := admin.Do(ctx, "POST", "/v1/contacts/import", "application/json", []byte(`{"source":"s","events":[],"dryRun":true}`), nil)
	wantCode(t, "unknown field", err, api.CodeUnknownField)
}

// The ledger orders a customer's contacts by time as an unsigned number of
// nanoseconds since 1970, so a time before 1970 would sort after every
// later one: it would read as the newest contact and turn up in every
// `since` query. The import refuses such times.
func TestContactsImport_TimesBefore1970AreRefused(t *testing.T) {
	admin, _, _ := importAPI(t)
	ctx := context.Background()
	rows := importRows(1, 2)
	rows[0].Time = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := admin.ImportContacts(ctx, api.ContactsImport{Source: "epoch", Events: rows}); err != nil {
		t.Fatalf("1970-01-01: %v", err)
	}
	evs, err := admin.Contacts(ctx, "C1", "2000-01-01T00:00:00Z", 0)
	if err != nil || len(evs) != 1 || evs[0].Seq != 2 {
		t.Fatalf("contacts since 2000: %+v %v; want row 2 alone", evs, err)
	}
	rows = importRows(3, 3)
	rows[0].Time = time.Date(1965, 6, 1, 0, 0, 0, 0, time.UTC)
	_, err = admin.ImportContacts(ctx, api.ContactsImport{Source: "epoch", Events: rows})
	if ae := wantCode(t, "1965", err, api.CodeInvalidField); !strings.Contains(ae.Message, "before 1970") {
		t.Errorf("1965: %q", ae.Message)
	}
}
