package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/analytics/analyticstest"
	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// cdnowLines is the first n lines of CDNOW_master.txt (its header line
// first), as published: CRLF line ends, fields padded with spaces.
func cdnowLines(t *testing.T, n int) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(analyticstest.SharedData(t), "CDNOW_master.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) < n {
		t.Fatalf("CDNOW_master.txt has %d lines, want at least %d", len(lines), n)
	}
	return lines[:n]
}

// purchase is one row of a purchase log, counted by hand from its text.
type purchase struct {
	seq   uint64
	date  string
	value float64
}

// purchasesOf reads a log's rows of one customer with nothing but
// strings.Fields: row numbers count the non-empty lines after the header.
func purchasesOf(t *testing.T, lines []string, customer string) []purchase {
	t.Helper()
	var out []purchase
	seq := uint64(0)
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		seq++
		if f[0] == customer {
			v, err := strconv.ParseFloat(f[3], 64)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, purchase{seq: seq, date: f[1], value: v})
		}
	}
	return out
}

type contactsImportJSON struct {
	File, Source, LedgerID   string
	Rows, Stored, Duplicates int
	HighestSeq, Index        uint64
}

func importContactsJSON(t *testing.T, addr, token string, args ...string) contactsImportJSON {
	t.Helper()
	out := mustTP(t, addr, token, append(append([]string{"contacts", "import"}, args...), "-o", "json")...)
	var r contactsImportJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("contacts import -o json: %v\n%s", err, out)
	}
	return r
}

// ledgerMark is the ledger id's received count and highest sequence in
// contacts stats, and whether it is listed.
func ledgerMark(t *testing.T, addr, token, id string) (received, highest uint64, listed bool) {
	t.Helper()
	var st api.ContactStats
	if err := json.Unmarshal([]byte(mustTP(t, addr, token, "contacts", "stats", "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	for _, a := range st.Agents {
		if a.AgentID == id {
			return a.Received, a.HighestSequence, true
		}
	}
	return 0, 0, false
}

func queryContacts(t *testing.T, addr, token, customer string) []protocol.ContactEvent {
	t.Helper()
	var evs []protocol.ContactEvent
	out := mustTP(t, addr, token, "contacts", "query", "--customer", customer, "--since", "1990-01-01T00:00:00Z", "-o", "json")
	if err := json.Unmarshal([]byte(out), &evs); err != nil {
		t.Fatalf("contacts query -o json: %v\n%s", err, out)
	}
	return evs
}

// wantPurchases compares a customer's ledger contacts with the rows
// counted from the file.
func wantPurchases(t *testing.T, evs []protocol.ContactEvent, want []purchase, ledger string) {
	t.Helper()
	if len(evs) != len(want) {
		t.Fatalf("%d contacts in the ledger, the file has %d rows: %+v", len(evs), len(want), evs)
	}
	for i, ev := range evs {
		w := want[i]
		day, _ := time.Parse("20060102", w.date)
		if ev.AgentID != ledger || ev.Seq != w.seq || !ev.Time.Equal(day) || ev.Value != w.value ||
			ev.Type != protocol.ContactTransaction || ev.Channel != api.ChannelStore || ev.Outcome != protocol.OutcomeAccepted {
			t.Errorf("contact %d: %+v; want %s seq %d at %s, value %v, a store transaction accepted", i, ev, ledger, w.seq, day.Format(time.RFC3339), w.value)
		}
	}
}

// CDNOW's first 3,000 lines (header and 2,999 purchases) land in the
// ledger as import.cdnow, row numbers as sequences; a customer's contacts
// are the rows counted by hand; a second run sends nothing.
func TestCLI_ContactsImportCDNOWThenAgainSendsNothing(t *testing.T) {
	lines := cdnowLines(t, 3000)
	file := writeFile(t, "cdnow-3000.txt", strings.Join(lines, ""))
	c := cptest.New(t, 1)
	addr := c.Nodes[0].URL()

	r := importContactsJSON(t, addr, c.Token, file, "--source", "cdnow")
	if r.Source != "cdnow" || r.LedgerID != "import.cdnow" || r.Rows != 2999 || r.Stored != 2999 || r.Duplicates != 0 || r.HighestSeq != 2999 || r.Index == 0 {
		t.Fatalf("first import: %+v; want 2,999 rows stored as import.cdnow", r)
	}
	if got, high, _ := ledgerMark(t, addr, c.Token, "import.cdnow"); got != 2999 || high != 2999 {
		t.Fatalf("contacts stats: import.cdnow received %d, highest %d; want 2999, 2999", got, high)
	}
	// Customer 00003 bought six times (lines 5 to 10: rows 4 to 9), 156.46
	// in all.
	evs := queryContacts(t, addr, c.Token, "00003")
	wantPurchases(t, evs, purchasesOf(t, lines, "00003"), "import.cdnow")
	sum := 0.0
	for _, ev := range evs {
		sum += ev.Value
	}
	if len(evs) != 6 || evs[0].Seq != 4 || evs[5].Seq != 9 || math.Abs(sum-156.46) > 1e-9 ||
		!evs[0].Time.Equal(time.Date(1997, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("00003: %d contacts, seq %d…, total %.2f; want 6 (rows 4–9), 156.46 from 1997-01-02", len(evs), evs[0].Seq, sum)
	}
	// The last customer of the slice has only its rows up to line 3,000.
	last := strings.Fields(lines[len(lines)-1])[0]
	wantPurchases(t, queryContacts(t, addr, c.Token, last), purchasesOf(t, lines, last), "import.cdnow")

	out := mustTP(t, addr, c.Token, "contacts", "import", file, "--source", "cdnow")
	if !strings.Contains(out, "all 2999 rows of "+file+" were already stored as source cdnow: nothing sent") {
		t.Errorf("second import says %q; want all rows already stored", out)
	}
	r = importContactsJSON(t, addr, c.Token, file, "--source", "cdnow")
	if r.Stored != 0 || r.Duplicates != 2999 || r.HighestSeq != 2999 || r.Index != 0 {
		t.Errorf("third import: %+v; want nothing stored, 2,999 duplicates", r)
	}
	if got, high, _ := ledgerMark(t, addr, c.Token, "import.cdnow"); got != 2999 || high != 2999 {
		t.Errorf("after importing again: received %d, highest %d; want 2999, 2999", got, high)
	}
	var audit []api.AuditEntry
	if err := json.Unmarshal([]byte(mustTP(t, addr, c.Token, "audit", "-o", "json")), &audit); err != nil {
		t.Fatal(err)
	}
	imports := 0
	for _, a := range audit {
		if a.Action == "ledger.import" && a.Target == "import.cdnow" {
			imports++
		}
	}
	if imports != 1 {
		t.Errorf("%d ledger.import audit records; want 1 (2,999 rows are one batch)", imports)
	}
}

// One bad row anywhere and nothing is sent: the row is named by its line,
// field and problem.
func TestCLI_ContactsImportOneBadRowSendsNothing(t *testing.T) {
	c := cptest.New(t, 1)
	addr := c.Nodes[0].URL()
	logWith := func(bad string) string {
		var b strings.Builder
		b.WriteString("customer_id date number_of_cds dollar_value\n")
		for i := 1; i <= 100; i++ {
			if i == 50 {
				b.WriteString(bad + "\n")
				continue
			}
			fmt.Fprintf(&b, "%05d 1997%02d%02d 1 %d.50\n", i, 1+i%12, 1+i%28, i)
		}
		return b.String()
	}
	csvWith := func(bad string) string {
		var b strings.Builder
		b.WriteString("customerId,date,amount,channel,outcome\n")
		for i := 1; i <= 100; i++ {
			if i == 50 {
				b.WriteString(bad + "\n")
				continue
			}
			fmt.Fprintf(&b, "C%d,2024-03-%02d,%d,kiosk,accepted\n", i, 1+i%28, i)
		}
		return b.String()
	}
	future := time.Now().UTC().Add(24 * time.Hour).Format("20060102")
	for _, tc := range []struct {
		name, file, want string
	}{
		{"bad date", logWith("00050 19971301 1 3.00"), `line 51: date: "19971301" is not a date: want YYYYMMDD`},
		{"negative value", logWith("00050 19970301 1 -3.00"), "line 51: value: must be a number from 0 to 1e12"},
		{"not a number", logWith("00050 19970301 one 3.00"), `line 51: quantity: "one" is not a number`},
		{"three fields", logWith("00050 19970301 3.00"), "line 51: row: 3 fields"},
		{"in the future", logWith("00050 " + future + " 1 3.00"), "line 51: date: " + future[:4] + "-"},
		{"bad customer", logWith("C/50 19970301 1 3.00"), `line 51: customer: "C/50": a customer id is`},
		{"holdout", csvWith("C50,2024-03-01,5,kiosk,holdout"), "line 51: outcome: holdout contacts are the agents' record"},
		{"unknown channel", csvWith("C50,2024-03-01,5,fax,accepted"), `line 51: channel: "fax": channels are store, kiosk`},
		{"csv bad time", csvWith("C50,01/03/2024,5,kiosk,accepted"), `line 51: date: "01/03/2024" is not a time`},
		{"csv short row", csvWith("C50,2024-03-01,5"), "line 51: row: 3 columns, the header has 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, "bad.txt", tc.file)
			source := strings.ReplaceAll(tc.name, " ", "-")
			out, errs, code := tp(t, addr, c.Token, "contacts", "import", file, "--source", source)
			if code == 0 || out != "" || !strings.Contains(errs, tc.want) ||
				!strings.Contains(errs, "error: invalid_input: "+file+": bad rows: 1 of 100 (listed above); nothing was sent") {
				t.Errorf("exit %d\nstdout %q\nstderr %q\nwant %q and nothing sent", code, out, errs, tc.want)
			}
			if _, _, listed := ledgerMark(t, addr, c.Token, "import."+source); listed {
				t.Errorf("a refused file stored rows as import.%s", source)
			}
		})
	}

	// 25 bad rows: the first 20 are listed, the rest counted.
	var b strings.Builder
	b.WriteString("customer,time,value\n")
	for i := 1; i <= 60; i++ {
		v := strconv.Itoa(i)
		if i%2 == 0 && i <= 50 {
			v = "-1"
		}
		fmt.Fprintf(&b, "C%d,2024-01-01,%s\n", i, v)
	}
	_, errs, code := tp(t, addr, c.Token, "contacts", "import", writeFile(t, "many.csv", b.String()), "--source", "many")
	if code == 0 || strings.Count(errs, ": value: must be") != 20 || !strings.Contains(errs, "line 41: value:") || strings.Contains(errs, "line 43:") ||
		!strings.Contains(errs, "… 5 rows more not listed") || !strings.Contains(errs, "bad rows: 25 of 60 (listed above)") {
		t.Errorf("25 bad rows: exit %d, stderr:\n%s", code, errs)
	}
}

// A CSV file's columns are found by name, in any order and case; blank
// lines are not rows; other columns are named once on stderr; times take
// every listed layout, UTC when they name no zone.
func TestCLI_ContactsImportCSVColumnsInAnyOrder(t *testing.T) {
	c := cptest.New(t, 1)
	addr := c.Nodes[0].URL()
	file := writeFile(t, "till.csv", "\ufeffNote,Amount,OfferID,Channel,CustomerID,Date,Type,Outcome,Till\r\n"+
		"first,12.50,,,K1,2024-03-01T10:00:00+08:00,,,7\r\n"+
		"\r\n"+
		"second,0,retain-10,kiosk,K1,2024-03-02 09:30:00,offer,presented,7\r\n"+
		"   \r\n"+
		"third,7,,web,K1,20240303,,,8\r\n"+
		"fourth,1.25,,,K2,2024-03-04,inquiry,ignored,8\r\n")
	out, errs, code := tp(t, addr, c.Token, "contacts", "import", file, "--source", "till-1", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if strings.Count(errs, "ignored columns of "+file+": Note, Till") != 1 {
		t.Errorf("stderr %q; want the ignored columns named once", errs)
	}
	var r contactsImportJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Rows != 4 || r.Stored != 4 || r.HighestSeq != 4 {
		t.Fatalf("import: %v %+v; want 4 rows", err, r)
	}
	want := []protocol.ContactEvent{
		{Seq: 1, Time: time.Date(2024, 3, 1, 2, 0, 0, 0, time.UTC), Type: "transaction", Channel: "store", Outcome: "accepted", Value: 12.5},
		{Seq: 2, Time: time.Date(2024, 3, 2, 9, 30, 0, 0, time.UTC), Type: "offer", Channel: "kiosk", Outcome: "presented", OfferID: "retain-10"},
		{Seq: 3, Time: time.Date(2024, 3, 3, 0, 0, 0, 0, time.UTC), Type: "transaction", Channel: "web", Outcome: "accepted", Value: 7},
	}
	got := queryContacts(t, addr, c.Token, "K1")
	if len(got) != len(want) {
		t.Fatalf("K1: %+v; want %d contacts", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.AgentID != "import.till-1" || g.CustomerID != "K1" || g.Seq != w.Seq || !g.Time.Equal(w.Time) || g.Type != w.Type ||
			g.Channel != w.Channel || g.Outcome != w.Outcome || g.Value != w.Value || g.OfferID != w.OfferID {
			t.Errorf("K1 contact %d: %+v; want %+v", i, g, w)
		}
	}
	if k2 := queryContacts(t, addr, c.Token, "K2"); len(k2) != 1 || k2[0].Seq != 4 || k2[0].Type != "inquiry" || k2[0].Outcome != "ignored" || k2[0].Value != 1.25 {
		t.Errorf("K2: %+v; want row 4, an ignored inquiry of 1.25", k2)
	}

	// Columns named by flags; --channel and --type for rows that name none.
	file = writeFile(t, "shop.csv", "paid,buyer,when,customerId\n3.5,S1,2024-05-01,x\n4,S1,2024-05-02,y\n")
	r = importContactsJSON(t, addr, c.Token, file, "--source", "shop", "--customer-column", "BUYER", "--time-column", "when",
		"--value-column", "paid", "--channel", "web", "--type", "service")
	if r.Stored != 2 {
		t.Fatalf("flags: %+v", r)
	}
	if s1 := queryContacts(t, addr, c.Token, "S1"); len(s1) != 2 || s1[1].Value != 4 || s1[1].Channel != "web" || s1[1].Type != "service" {
		t.Errorf("S1: %+v; want 2 web services, the second of 4", s1)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--customer-column", "nope"}, `error: invalid_input: ` + file + `: the header has no column "nope" (--customer-column)`},
		{[]string{"--customer-column", "when", "--time-column", "when"}, `column "when" cannot be both the customerId and the time`},
		{[]string{"--format", "log"}, "error: invalid_input: " + file + ": bad rows: 3 of 3"},
		{[]string{"--format", "log", "--value-column", "paid"}, "error: usage: --value-column names a CSV column"},
		{[]string{"--format", "xml"}, `error: usage: --format "xml": use log or csv`},
		{[]string{"--channel", "fax"}, `error: usage: --channel "fax": use one of store, kiosk`},
		{[]string{"--outcome", "holdout"}, "error: usage: --outcome holdout"},
		{[]string{"--batch", "0"}, "error: usage: --batch 0: must be between 1 and 10000"},
	} {
		_, errs, code := tp(t, addr, c.Token, append([]string{"contacts", "import", file, "--source", "shop2"}, tc.args...)...)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %q", tc.args, code, errs, tc.want)
		}
	}
	if _, _, listed := ledgerMark(t, addr, c.Token, "import.shop2"); listed {
		t.Error("a refused import stored rows")
	}
}

// A longer version of a file sends only its new rows; a shorter one, or
// another file under the same source, is refused.
func TestCLI_ContactsImportResumesWithTheRest(t *testing.T) {
	// Blank lines, and lines of spaces, are not rows.
	lines := cdnowLines(t, 3000)
	lines = slices.Insert(lines, 2000, "\r\n", "   \t \r\n")
	lines = slices.Insert(lines, 500, "\r\n")
	head := writeFile(t, "cdnow-1000.txt", strings.Join(lines[:1002], ""))
	full := writeFile(t, "cdnow-3000.txt", strings.Join(lines, ""))
	c := cptest.New(t, 1)
	addr := c.Nodes[0].URL()

	if r := importContactsJSON(t, addr, c.Token, head, "--source", "cdnow"); r.Stored != 1000 || r.HighestSeq != 1000 {
		t.Fatalf("first 1,000 rows: %+v", r)
	}
	out := mustTP(t, addr, c.Token, "contacts", "import", full, "--source", "cdnow", "--batch", "700")
	want := "imported 1999 rows from " + full + " as source cdnow (1000 already stored); the ledger holds rows 1–2999 of import.cdnow"
	if !strings.Contains(out, want) {
		t.Fatalf("the full file: %q; want %q", out, want)
	}
	if got, high, _ := ledgerMark(t, addr, c.Token, "import.cdnow"); got != 2999 || high != 2999 {
		t.Fatalf("after the full file: received %d, highest %d; want 2999 once each", got, high)
	}
	// Customer 00286 straddles row 1,000.
	wantPurchases(t, queryContacts(t, addr, c.Token, "00286"), purchasesOf(t, lines, "00286"), "import.cdnow")

	_, errs, code := tp(t, addr, c.Token, "contacts", "import", head, "--source", "cdnow")
	if code == 0 || !strings.Contains(errs, "error: invalid_input: the cluster holds rows 1–2999 of source cdnow, but "+head+" has only 1000") {
		t.Errorf("a shorter file: exit %d, stderr %q; want it refused", code, errs)
	}
	// Same length, other rows: the last stored row tells.
	other := append([]string(nil), lines...)
	other[len(other)-1] = " 00884 19970104  3   82.99\r\n"
	_, errs, code = tp(t, addr, c.Token, "contacts", "import", writeFile(t, "other.txt", strings.Join(other, "")), "--source", "cdnow")
	if code == 0 || !strings.Contains(errs, "row 2999 of ") || !strings.Contains(errs, "(value differs)") {
		t.Errorf("another file of the same length: exit %d, stderr %q; want it refused", code, errs)
	}
	if got, _, _ := ledgerMark(t, addr, c.Token, "import.cdnow"); got != 2999 {
		t.Errorf("refused files stored rows: %d received", got)
	}
}

// A source name the ledger cannot hold is a usage error; so is none.
func TestCLI_ContactsImportSourceIsChecked(t *testing.T) {
	file := writeFile(t, "p.txt", "00001 19970101 1 11.77\n")
	t.Setenv("TOUCHPOINT_ADDR", "http://127.0.0.1:1") // refused before any request
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--source", "a b"}, `error: usage: --source "a b": 1 to 121 ASCII letters`},
		{[]string{"--source", "x/y"}, `error: usage: --source "x/y"`},
		{[]string{"--source", ".."}, `error: usage: --source ".."`},
		{[]string{"--source", strings.Repeat("s", 122)}, "error: usage: --source"},
		{nil, "error: usage: required flag --source not given"},
		{[]string{"--source", "x", "extra"}, "error: usage: touchpoint contacts import FILE --source NAME"},
	} {
		var out, errb strings.Builder
		code := run(t.Context(), append([]string{"touchpoint", "contacts", "import", file}, tc.args...), &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %q", tc.args, code, errb.String(), tc.want)
		}
	}
	// The longest name is accepted (the request is then refused: nothing listens).
	_, errs, _ := tp(t, "http://127.0.0.1:1", "", "contacts", "import", file, "--source", strings.Repeat("s", 121))
	if !strings.HasPrefix(errs, "error: unreachable: ") {
		t.Errorf("a 121-byte source: %q; want it sent", errs)
	}
}

// When the cluster fails midway, stderr says how many rows it holds (its
// own figure) and that the same command resumes; run again, it sends only
// the rest.
func TestCLI_ContactsImportMidwayErrorSaysHowToResume(t *testing.T) {
	var mu sync.Mutex
	held, calls, failAt := uint64(0), 0, 2
	var firstSeqs []uint64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/v1/contacts/stats":
			_ = json.NewEncoder(w).Encode(api.ContactStats{Total: held, Agents: []api.AgentContacts{{AgentID: "import.p", Received: held, HighestSequence: held}}})
		case "/v1/contacts":
			_ = json.NewEncoder(w).Encode([]protocol.ContactEvent{}) // the last stored row is not found: it passes
		case "/v1/contacts/import":
			calls++
			var req api.ContactsImport
			_ = json.NewDecoder(r.Body).Decode(&req)
			if calls == failAt {
				w.WriteHeader(http.StatusServiceUnavailable)
				_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: &api.Error{Code: api.CodeUnavailable, Message: "the disk is full"}})
				return
			}
			firstSeqs = append(firstSeqs, req.Events[0].Seq)
			held = req.Events[len(req.Events)-1].Seq
			_ = json.NewEncoder(w).Encode(api.ContactsImportResult{Source: req.Source, LedgerID: "import.p", Index: 7, Stored: len(req.Events), HighestSeq: held})
		}
	}))
	defer srv.Close()
	var b strings.Builder
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&b, "C%d 19970101 1 %d\n", i, i)
	}
	file := writeFile(t, "p.txt", b.String())
	out, errs, code := tp(t, srv.URL, "t", "contacts", "import", file, "--source", "p", "--batch", "3")
	want := "the ledger holds rows 1–3 of import.p (3 of " + file + "'s 10 rows); run the same command again to resume\nerror: unavailable: the disk is full\n"
	if code == 0 || out != "" || errs != want {
		t.Fatalf("exit %d\nstdout %q\nstderr %q\nwant %q", code, out, errs, want)
	}
	mu.Lock()
	failAt = 0
	mu.Unlock()
	r := importContactsJSON(t, srv.URL, "t", file, "--source", "p", "--batch", "3")
	if r.Stored != 7 || r.Duplicates != 3 || r.HighestSeq != 10 || len(firstSeqs) != 4 || firstSeqs[1] != 4 || firstSeqs[3] != 10 {
		t.Errorf("resumed: %+v, batches starting at %v; want rows 4–10 in batches from 4, 7 and 10", r, firstSeqs)
	}
}

// End to end: profiles for CDNOW's first customers (a CSV of ids), their
// purchases from the log, segments run as of the log's end: a customer's
// profile shows RFM scores from the imported purchases.
func TestCLI_ContactsImportThenSegmentsRunScoresRFM(t *testing.T) {
	lines := cdnowLines(t, 3000)
	ids := map[string]bool{}
	var csv strings.Builder
	csv.WriteString("customerID\n")
	for _, l := range lines[1:] {
		if id := strings.Fields(l)[0]; !ids[id] {
			ids[id] = true
			csv.WriteString(id + "\n")
		}
	}
	c := cptest.New(t, 1)
	addr := c.Nodes[0].URL()
	mustTP(t, addr, c.Token, "customers", "import", writeFile(t, "ids.csv", csv.String()))
	mustTP(t, addr, c.Token, "contacts", "import", writeFile(t, "cdnow.txt", strings.Join(lines, "")), "--source", "cdnow")
	var run api.SegmentsRunResult
	if err := json.Unmarshal([]byte(mustTP(t, addr, c.Token, "segments", "run", "--as-of", "1998-06-30", "-o", "json")), &run); err != nil {
		t.Fatal(err)
	}
	var show api.CustomerView
	if err := json.Unmarshal([]byte(mustTP(t, addr, c.Token, "customers", "show", "00003", "-o", "json")), &show); err != nil {
		t.Fatal(err)
	}
	// 00003 bought on six days, the last 1998-05-28: 33 days before.
	d := show.Derived
	if d["rfmRecency"] == nil || d["rfmMonetary"] == nil || d["rfmFrequency"] != 5.0 || d["rfm"] == nil || d["rfmSegment"] == nil || d["rfmSegment"] == "none" {
		t.Fatalf("00003's derived fields after segments run: %v; want RFM scores, F = 5", d)
	}
	if rfm, _ := d["rfm"].(string); len(rfm) != 3 || rfm[1] != '5' {
		t.Errorf("rfm %v; want three digits, F = 5", d["rfm"])
	}
	if len(ids) != 884 || run.Customers != 884 || run.Segments["none"] != 0 {
		t.Errorf("%d customers, %d not ranked; want 884, all ranked (each has a purchase): %+v", len(ids), run.Segments["none"], run)
	}
}

// A token that may read the ledger but not import gets the refusal alone:
// no word of rows stored.
func TestCLI_ContactsImportRefusedRolePrintsOnlyTheError(t *testing.T) {
	c := cptest.New(t, 1)
	addr := c.Nodes[0].URL()
	file := writeFile(t, "p.txt", "00001 19970101 1 11.77\n00002 19970112 1 12.00\n")
	out, errs, code := tp(t, addr, newToken(t, c, api.RoleAnalyst), "contacts", "import", file, "--source", "p")
	if code == 0 || out != "" || !strings.HasPrefix(errs, "error: forbidden: role analyst may not do this") || strings.Count(errs, "\n") != 1 {
		t.Errorf("analyst: exit %d\nstdout %q\nstderr %q\nwant the refusal alone", code, out, errs)
	}
	if _, _, listed := ledgerMark(t, addr, c.Token, "import.p"); listed {
		t.Error("a refused import stored rows")
	}
	if r := importContactsJSON(t, addr, newToken(t, c, api.RoleOperator), file, "--source", "p"); r.Stored != 2 {
		t.Errorf("operator: %+v; want 2 rows stored", r)
	}
}

// FuzzContactRows_NeverPanicAndRoundTrip: any input, read as a purchase
// log and as CSV, never panics; rows come on increasing lines, numbered
// 1, 2, 3…; every good row passes the cluster's check; and the good rows
// of a log, written out again, read back the same (numbered without the
// bad rows).
func FuzzContactRows_NeverPanicAndRoundTrip(f *testing.F) {
	f.Add([]byte(" customer_id  date number_of_cds  dollar_value\r\n 00001 19970101  1   11.77\r\n\r\n 00002 19970112  1   12.00\r\n"))
	f.Add([]byte("customerId,date,amount,channel\nC1,2024-03-01T10:00:00+08:00,12.5,kiosk\n\nC2,\"2024-03-02\",x,\n"))
	f.Add([]byte("id,time\n\"C1\n,2024-01-01\nC2,20240102\n"))
	f.Add([]byte("\ufeffa 19990101 1 1e3\nb 19990101 -1 NaN\nc 19690101 1 1\n"))
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	defs := importDefaults{typ: protocol.ContactTransaction, channel: api.ChannelStore, outcome: protocol.OutcomeAccepted}
	read := func(t *testing.T, format string, data []byte) []protocol.ContactEvent {
		im := &contactsImport{e: &env{stdout: io.Discard, stderr: io.Discard, lang: "en"}, file: "f", format: format, defs: defs, now: now}
		rows, err := im.open(bytes.NewReader(data), true)
		if err != nil {
			return nil
		}
		var good []protocol.ContactEvent
		prevLine, seen := 0, 0
		at := func(line int) {
			if line <= prevLine {
				t.Fatalf("%s: a row on line %d after one on line %d", format, line, prevLine)
			}
			prevLine = line
			seen++
		}
		n, err := im.scan(rows, func(line int, ev *protocol.ContactEvent) error {
			at(line)
			if ev.Seq != uint64(seen) {
				t.Fatalf("%s: row %d numbered %d", format, seen, ev.Seq)
			}
			if field, problem := api.CheckImportEvent(ev, now); field != "" {
				t.Fatalf("%s: a good row fails the check: %s %s", format, field, problem)
			}
			good = append(good, *ev)
			return nil
		}, func(p *rowProblem) error {
			at(p.Line)
			if p.Field == "" || p.Problem == "" {
				t.Fatalf("%s: a problem without a field or text: %+v", format, p)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if n != seen {
			t.Fatalf("%s: %d rows counted, %d seen", format, n, seen)
		}
		return good
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		read(t, contactsFormatCSV, data)
		good := read(t, contactsFormatLog, data)
		var b bytes.Buffer
		for _, ev := range good {
			fmt.Fprintf(&b, "%s %s 1 %s\n", ev.CustomerID, ev.Time.Format("20060102"), strconv.FormatFloat(ev.Value, 'g', -1, 64))
		}
		again := read(t, contactsFormatLog, b.Bytes())
		if len(again) != len(good) {
			t.Fatalf("%d good rows, %d written out and read back", len(good), len(again))
		}
		for i := range good {
			g, a := good[i], again[i]
			if g.CustomerID != a.CustomerID || !g.Time.Equal(a.Time) || g.Value != a.Value || a.Seq != uint64(i+1) {
				t.Fatalf("row %d: %+v, read back as %+v", i, g, a)
			}
		}
	})
}
