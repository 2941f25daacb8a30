package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

const customersCSV = `customerID,name,phone,tenureMonths,voiceMinutes,dataMB,sms
C1,Li Wei,13800000001,12,420,5120,30
C2,Wang Fang,13800000002,3,90,800,10
`

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type importJSON struct {
	Imported int `json:"imported"`
	Skipped  int `json:"skipped"`
	Errors   []struct {
		Line   int    `json:"line"`
		Reason string `json:"reason"`
	} `json:"errors"`
	Index    uint64 `json:"index"`
	Replaced int    `json:"replaced"`
}

func importFile(t *testing.T, addr, token, file string, flags ...string) importJSON {
	t.Helper()
	out := mustTP(t, addr, token, append([]string{"customers", "import", file, "-o", "json"}, flags...)...)
	var r importJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("import -o json is not JSON: %v\n%s", err, out)
	}
	return r
}

func showJSON(t *testing.T, addr, token, id string) map[string]any {
	t.Helper()
	out := mustTP(t, addr, token, "customers", "show", id, "-o", "json")
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("show -o json: %v\n%s", err, out)
	}
	return v
}

func newToken(t *testing.T, c *cptest.Cluster, role string) string {
	t.Helper()
	tok, err := c.Client(c.Leader()).CreateToken(context.Background(), api.TokenRequest{Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

func TestCLI_CustomersImportShowErase(t *testing.T) {
	c := cptest.New(t, 3)
	follower, leader := c.Nodes[c.Follower()].URL(), c.Nodes[c.Leader()].URL()
	file := writeFile(t, "customers.csv", customersCSV)

	r := importFile(t, follower, c.Token, file, "--id-column", "customerID")
	if r.Imported != 2 || r.Skipped != 0 || r.Index == 0 || r.Errors == nil || len(r.Errors) != 0 {
		t.Fatalf("import: %+v", r)
	}

	// Typed attributes; PII stays text; the admin sees it unmasked.
	v := showJSON(t, leader, c.Token, "C1")
	want := map[string]any{"name": "Li Wei", "phone": "13800000001", "tenureMonths": 12.0, "voiceMinutes": 420.0, "dataMB": 5120.0, "sms": 30.0}
	if !reflect.DeepEqual(v["attributes"], want) {
		t.Errorf("attributes %#v\nwant %#v", v["attributes"], want)
	}
	// Rows travel in several batches: the report's index is the last.
	if idx, _ := v["index"].(float64); v["id"] != "C1" || v["masked"] != false || idx <= 0 || idx > float64(r.Index) || v["doNotDisturb"] != false {
		t.Errorf("show C1 %v", v)
	}
	for _, k := range []string{"region", "consents", "derived", "recentContacts"} {
		if _, ok := v[k]; !ok {
			t.Errorf("show -o json lacks %q", k)
		}
	}

	// Any other role sees personal data masked.
	op := newToken(t, c, api.RoleOperator)
	v = showJSON(t, follower, op, "C2")
	attrs, _ := v["attributes"].(map[string]any)
	if v["masked"] != true || attrs["phone"] != "13*******02" || attrs["name"] != "Wa*****ng" || attrs["tenureMonths"] != 3.0 {
		t.Errorf("operator view %v", v)
	}
	out := mustTP(t, follower, op, "customers", "show", "C1")
	if !strings.Contains(out, "L****i") || strings.Contains(out, "Li Wei") || !strings.Contains(out, "tenureMonths") || !strings.Contains(out, "5120") {
		t.Errorf("operator table:\n%s", out)
	}
	out = mustTP(t, follower, c.Token, "customers", "show", "C1")
	if !strings.Contains(out, "Li Wei") || !strings.Contains(out, "13800000001") {
		t.Errorf("admin table:\n%s", out)
	}

	// Erase, then the customer is gone.
	out = mustTP(t, follower, op, "customers", "erase", "C1", "--wait", "1s", "-o", "json")
	var er struct {
		ID          string
		Index       uint64
		Confirmed   []string
		Unconfirmed []string
	}
	if err := json.Unmarshal([]byte(out), &er); err != nil || er.ID != "C1" || er.Index <= r.Index || er.Confirmed == nil || er.Unconfirmed == nil {
		t.Fatalf("erase -o json: %v\n%s", err, out)
	}
	if _, errs, code := tp(t, leader, c.Token, "customers", "show", "C1"); code == 0 || !strings.Contains(errs, "not_found") {
		t.Errorf("show after erase: exit %d, %s", code, errs)
	}
	if _, errs, code := tp(t, leader, c.Token, "customers", "erase", "C1"); code == 0 || !strings.Contains(errs, "not_found") {
		t.Errorf("erase twice: exit %d, %s", code, errs)
	}
	if _, errs, code := tp(t, leader, c.Token, "customers", "show", "nobody"); code == 0 || !strings.Contains(errs, "not_found") {
		t.Errorf("show unknown: exit %d, %s", code, errs)
	}
	// A viewer may read (masked) but not import or erase.
	viewer := newToken(t, c, api.RoleViewer)
	showJSON(t, leader, viewer, "C2")
	// Its table says the contacts are hidden, not that there are none.
	if out, errs, code := tp(t, leader, viewer, "customers", "show", "C2"); code != 0 || !strings.Contains(out, "recent contacts not shown") {
		t.Errorf("viewer show: exit %d, %s%s", code, out, errs)
	}
	if _, errs, code := tp(t, leader, viewer, "customers", "import", file, "--id-column", "customerID"); code == 0 || !strings.Contains(errs, "forbidden") {
		t.Errorf("viewer import: exit %d, %s", code, errs)
	}
}

func TestCLI_CustomersImportReportsBadRowsByLine(t *testing.T) {
	c := cptest.New(t, 3)
	addr := c.Nodes[c.Leader()].URL()
	body := "id,region,name,phone,plan,arpu,dnd,consent_sms,code\n" + // line 1
		"C1,sh,Li Wei,13800000001,basic,38.5,no,yes,0123\n" + // 2: good
		"C2,sh,Wang Fang,13800000002,basic\n" + // 3: too few columns
		"C 3,sh,Zhang San,13800000003,basic,10,no,yes,1\n" + // 4: bad id
		"C4,sh,\xff\xfe,13800000004,basic,10,no,yes,1\n" + // 5: invalid UTF-8
		"C5,sh,x,13800000005," + strings.Repeat("p", 5000) + ",10,no,yes,1\n" + // 6: over-long value
		"C6,sh,x,13800000006,basic,10,maybe,yes,1\n" + // 7: bad yes/no
		"C7,s h,x,13800000007,basic,10,no,yes,1\n" + // 8: bad region
		"C8,sh,\"Zhao\"Si,13800000008,basic,10,no,yes,1\n" + // 9: bare quote
		"\n" + // 10: blank, ignored
		"C9,bj,\"Qian, Wu\",13800000009,5g-max,  ,YES,No,\n" // 11: good
	file := writeFile(t, "bad.csv", body)
	r := importFile(t, addr, c.Token, file)
	if r.Imported != 2 || r.Skipped != 7 || len(r.Errors) != 7 || r.Replaced != 0 {
		t.Fatalf("import: %+v", r)
	}
	wantLines := map[int]string{3: "wrong column count", 4: "bad customer id", 5: "invalid UTF-8", 6: "value too long",
		7: "not a yes/no value", 8: "bad region", 9: "malformed CSV"}
	for _, e := range r.Errors {
		if w, ok := wantLines[e.Line]; !ok || !strings.HasPrefix(e.Reason, w) {
			t.Errorf("line %d: %q, want a %q", e.Line, e.Reason, w)
		}
		delete(wantLines, e.Line)
	}
	if len(wantLines) != 0 {
		t.Errorf("not reported: %v", wantLines)
	}
	v := showJSON(t, addr, c.Token, "C1")
	attrs, _ := v["attributes"].(map[string]any)
	consents, _ := v["consents"].(map[string]any)
	if attrs["arpu"] != 38.5 || attrs["code"] != "0123" || attrs["plan"] != "basic" || v["region"] != "sh" ||
		consents["sms"] != true || v["doNotDisturb"] != false {
		t.Errorf("C1 %v", v)
	}
	if _, ok := attrs["dnd"]; ok {
		t.Error("dnd is a reserved column, not an attribute")
	}
	v = showJSON(t, addr, c.Token, "C9")
	attrs, _ = v["attributes"].(map[string]any)
	if _, ok := attrs["arpu"]; ok || attrs["name"] != "Qian, Wu" || v["doNotDisturb"] != true || v["region"] != "bj" {
		t.Errorf("C9 (blank arpu is missing) %v", v)
	}

	// The text summary groups reasons and names lines; imported again,
	// both rows replace what the first import stored.
	out := mustTP(t, addr, c.Token, "customers", "import", file)
	for _, s := range []string{"imported 2 customers, skipped 7 rows", "wrong column count", "line 3:", "line 9:", "2 rows replaced a stored profile: a re-imported id replaces its stored attributes"} {
		if !strings.Contains(out, s) {
			t.Errorf("summary lacks %q:\n%s", s, out)
		}
	}

	// Nothing importable, or an unreadable file: non-zero exit.
	none := writeFile(t, "none.csv", "id,name\nC 1,x\n")
	if out, _, code := tp(t, addr, c.Token, "customers", "import", none, "-o", "json"); code == 0 || !strings.Contains(out, `"skipped": 1`) {
		t.Errorf("nothing imported: exit %d\n%s", code, out)
	}
	if _, errs, code := tp(t, addr, c.Token, "customers", "import", filepath.Join(t.TempDir(), "missing.csv")); code == 0 || !strings.Contains(errs, "missing.csv") {
		t.Errorf("missing file: exit %d %s", code, errs)
	}
	noID := writeFile(t, "noid.csv", "name,phone\nx,1\n")
	if _, errs, code := tp(t, addr, c.Token, "customers", "import", noID); code == 0 || !strings.Contains(errs, "id column") {
		t.Errorf("no id column: exit %d %s", code, errs)
	}
	if _, errs, code := tp(t, addr, c.Token, "customers", "import", file, "--id-column", "custno"); code == 0 || !strings.Contains(errs, "custno") {
		t.Errorf("missing --id-column: exit %d %s", code, errs)
	}
}

func TestCLI_CustomersImportJSONLinesAndReimport(t *testing.T) {
	c := cptest.New(t, 3)
	addr := c.Nodes[c.Follower()].URL()
	lines := `{"id":"C1","region":"sh","doNotDisturb":true,"consents":{"sms":true},"attributes":{"plan":"basic","tenureMonths":12}}
{"customerId":"ignored-as-attribute","id":"C2","phone":13800000002,"tenureMonths":3,"vip":true,"consent_kiosk":"yes","note":"  "}

{"id":"C3","attributes":{"nested":{"x":1}}}
not json
{"id":"C4","region":"gz","dataMB":800.5}
`
	file := writeFile(t, "customers.data", lines) // detected by its first byte
	r := importFile(t, addr, c.Token, file)
	if r.Imported != 3 || r.Skipped != 2 || len(r.Errors) != 2 || r.Errors[0].Line != 4 || r.Errors[1].Line != 5 {
		t.Fatalf("jsonl import: %+v", r)
	}
	v := showJSON(t, addr, c.Token, "C1")
	if v["region"] != "sh" || v["doNotDisturb"] != true || !reflect.DeepEqual(v["attributes"], map[string]any{"plan": "basic", "tenureMonths": 12.0}) ||
		!reflect.DeepEqual(v["consents"], map[string]any{"sms": true}) {
		t.Errorf("C1 %v", v)
	}
	v = showJSON(t, addr, c.Token, "C2")
	want := map[string]any{"customerId": "ignored-as-attribute", "phone": "13800000002", "tenureMonths": 3.0, "vip": true}
	if !reflect.DeepEqual(v["attributes"], want) || !reflect.DeepEqual(v["consents"], map[string]any{"kiosk": true}) {
		t.Errorf("C2 %v", v)
	}

	// Re-import: the profile is replaced as a whole, at a later index.
	csv1 := writeFile(t, "customers.csv", customersCSV)
	first := importFile(t, addr, c.Token, csv1, "--id-column", "customerID")
	csv2 := writeFile(t, "customers2.csv", "customerID,name,tenureMonths,plan\nC1,Li Wei,13,5g-max\n")
	second := importFile(t, addr, c.Token, csv2, "--id-column", "customerID")
	if second.Imported != 1 || second.Index <= first.Index {
		t.Fatalf("re-import %+v after %+v", second, first)
	}
	v = showJSON(t, addr, c.Token, "C1")
	if !reflect.DeepEqual(v["attributes"], map[string]any{"name": "Li Wei", "tenureMonths": 13.0, "plan": "5g-max"}) || v["index"] != float64(second.Index) ||
		v["region"] != "" || v["doNotDisturb"] != false {
		t.Errorf("C1 after re-import %v", v)
	}
	// A file naming one id twice keeps the later row, however the batches
	// fly.
	var b strings.Builder
	b.WriteString("id,seq\n")
	for i := range 3000 {
		b.WriteString("D")
		b.WriteString(string(rune('0' + i%10)))
		b.WriteString(",")
		b.WriteString(strings.Repeat("1", 1+i/300))
		b.WriteString("\n")
	}
	r = importFile(t, addr, c.Token, writeFile(t, "dups.csv", b.String()))
	if r.Imported != 3000 {
		t.Fatalf("dups: %+v", r)
	}
	for d := range 10 {
		v = showJSON(t, addr, c.Token, "D"+string(rune('0'+d)))
		if a, _ := v["attributes"].(map[string]any); a["seq"] != 1111111111.0 {
			t.Errorf("D%d seq %v, want the last row's", d, a["seq"])
		}
	}
}

func TestTypedValue_Rules(t *testing.T) {
	for _, c := range []struct {
		in   string
		pii  bool
		want any
	}{
		{"12", false, 12.0},
		{" 38.5 ", false, 38.5},
		{"-0.25", false, -0.25},
		{"0", false, 0.0},
		{"0.5", false, 0.5},
		{".5", false, 0.5},
		{"1e3", false, 1000.0},
		{"0123", false, "0123"},
		{"-007", false, "-007"},
		{"13800000001", true, "13800000001"},
		{"yes", true, "yes"},
		{"YES", false, true},
		{"False", false, false},
		{"no", false, false},
		{"y", false, "y"},
		{"1234567890123456", false, "1234567890123456"}, // 16 digits: kept exact as text
		{"123456789012345", false, 123456789012345.0},
		{"1e999", false, "1e999"},
		{"NaN", false, "NaN"},
		{"Inf", false, "Inf"},
		{"0x10", false, "0x10"},
		{"1_000", false, "1_000"},
		{"12 months", false, "12 months"},
		{"上海", false, "上海"},
	} {
		got, ok := typedValue(c.in, c.pii)
		if !ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("typedValue(%q, pii=%v) = %#v, %v; want %#v", c.in, c.pii, got, ok, c.want)
		}
	}
	for _, blank := range []string{"", "   ", "\t"} {
		if _, ok := typedValue(blank, false); ok {
			t.Errorf("%q is not missing", blank)
		}
	}
}

type fakeFleet struct {
	mu    sync.Mutex
	calls int
	steps [][]api.FleetAgent
}

func (f *fakeFleet) FleetAgents(context.Context) ([]api.FleetAgent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.steps[min(f.calls, len(f.steps)-1)]
	f.calls++
	if s == nil {
		return nil, errors.New("fleet down")
	}
	return s, nil
}

// awaitErasure is waitErasure with the agents not connected counted.
func awaitErasure(ctx context.Context, fl fleetLister, index uint64, wait, every time.Duration) (confirmed, unconfirmed []string, offline int, err error) {
	st, err := waitErasure(ctx, fl, index, wait, every)
	return st.confirmed, st.unconfirmed, len(st.notConnected), err
}

// An alive agent has applied the erasure once the configuration index it
// reports applied reaches the erase's; dead and revoked agents are not
// waited for.
func TestAwaitErasure_WaitsForAliveAgentsOnly(t *testing.T) {
	agent := func(id, status string, idx uint64, revoked bool) api.FleetAgent {
		return api.FleetAgent{ID: id, Status: status, ConfigIndex: idx, AppliedIndex: idx, Revoked: revoked}
	}
	fl := &fakeFleet{steps: [][]api.FleetAgent{
		{agent("a", "alive", 9, false), agent("b", "alive", 10, false), agent("c", "dead", 0, false), agent("d", "alive", 0, true)},
		{agent("a", "alive", 12, false), agent("b", "alive", 12, false), agent("c", "dead", 0, false), agent("d", "alive", 0, true)},
	}}
	conf, unconf, offline, err := awaitErasure(context.Background(), fl, 10, 5*time.Second, time.Millisecond)
	if err != nil || !reflect.DeepEqual(conf, []string{"a", "b"}) || len(unconf) != 0 || offline != 1 || fl.calls != 2 {
		t.Fatalf("confirmed %v unconfirmed %v offline %d calls %d err %v", conf, unconf, offline, fl.calls, err)
	}
	// One that never catches up is reported when the wait runs out.
	fl = &fakeFleet{steps: [][]api.FleetAgent{{agent("a", "alive", 3, false), agent("b", "alive", 11, false)}}}
	start := time.Now()
	conf, unconf, _, err = awaitErasure(context.Background(), fl, 10, 100*time.Millisecond, 10*time.Millisecond)
	if err != nil || !reflect.DeepEqual(conf, []string{"b"}) || !reflect.DeepEqual(unconf, []string{"a"}) || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("timeout: confirmed %v unconfirmed %v err %v after %v", conf, unconf, err, time.Since(start))
	}
	// Sent the erasure by its session but not yet reporting it applied:
	// not confirmed.
	sent := api.FleetAgent{ID: "s", Status: "alive", ConfigIndex: 12, AppliedIndex: 9}
	conf, unconf, _, err = awaitErasure(context.Background(), &fakeFleet{steps: [][]api.FleetAgent{{sent}}}, 10, 50*time.Millisecond, 10*time.Millisecond)
	if err != nil || len(conf) != 0 || !reflect.DeepEqual(unconf, []string{"s"}) {
		t.Fatalf("sent, not applied: confirmed %v unconfirmed %v err %v", conf, unconf, err)
	}
	if _, _, _, err := awaitErasure(context.Background(), &fakeFleet{steps: [][]api.FleetAgent{nil}}, 1, time.Second, time.Millisecond); err == nil {
		t.Fatal("a fleet error is reported")
	}
}

// fakeUpserter refuses profiles whose id starts with "X" (at their position,
// as the cluster does) and records what it committed.
type fakeUpserter struct {
	mu    sync.Mutex
	index uint64
	got   []string
}

func (f *fakeUpserter) UpsertCustomersJSON(_ context.Context, body []byte) (*api.CustomersResult, error) {
	var ps []protocol.Profile
	if err := json.Unmarshal(body, &ps); err != nil {
		return nil, err
	}
	for i, p := range ps {
		if strings.HasPrefix(p.ID, "X") {
			return nil, (&api.Error{Code: api.CodeInvalidField, Message: "refused", Status: 400}).InDocument(i, "")
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	for _, p := range ps {
		f.got = append(f.got, p.ID)
	}
	return &api.CustomersResult{Index: f.index, Upserted: len(ps)}, nil
}

// A profile the cluster refuses is skipped with its line; the rest of its
// batch is committed.
func TestRunImport_SkipsRefusedProfileAndKeepsItsBatch(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,v\n")
	for i := range 50 {
		id := "C" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if i == 7 {
			id = "Xbad"
		}
		b.WriteString(id + ",1\n")
	}
	src, err := openSource("x.csv", bufio.NewReader(strings.NewReader(b.String())), newColumns("", ""), false, false)
	if err != nil {
		t.Fatal(err)
	}
	up := &fakeUpserter{}
	rep, err := runImport(context.Background(), src, up, importConfig{BatchRows: 10, InFlight: 3}, nil)
	if err != nil || rep.Imported != 49 || rep.Skipped != 1 || rep.Errors[0].Line != 9 || !strings.Contains(rep.Errors[0].Reason, "refused") {
		t.Fatalf("report %+v, %v", rep, err)
	}
	if len(up.got) != 49 {
		t.Errorf("committed %d", len(up.got))
	}
}

// FuzzParseCustomerRow: any input, CSV or JSON Lines, never panics the
// reader, and every profile it yields is one the cluster accepts.
func FuzzParseCustomerRow(f *testing.F) {
	f.Add([]byte(customersCSV), false)
	f.Add([]byte("id,region,dnd,consent.sms,consent_all,phone,x\nC1,sh,yes,no,true,0123,1e5\n\"C2\",\"b\"\"j\",,,,,\n"), false)
	f.Add([]byte("id,a\nC1,\"unterminated\nC2,2\n"), false)
	f.Add([]byte(`{"id":"C1","region":"sh","consents":{"sms":true},"attributes":{"a":1,"b":"x"},"dnd":"yes","phone":138}`+"\n{\"id\":2}\n"), true)
	f.Add([]byte("{\"id\":\"C1\",\"x\":[1]}\n{]\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, jsonl bool) {
		name := "f.csv"
		if jsonl {
			name = "f.jsonl"
		}
		src, err := openSource(name, bufio.NewReader(bytes.NewReader(data)), newColumns("", ""), false, false)
		if err != nil {
			return
		}
		for range 10_000 {
			p, line, err := src.next()
			if err == io.EOF {
				return
			}
			var re *rowError
			if errors.As(err, &re) {
				if re.Line <= 0 || re.Reason == "" {
					t.Fatalf("row error without line or reason: %+v", re)
				}
				continue
			}
			if err != nil {
				return
			}
			if line <= 0 {
				t.Fatalf("profile %s without a line", p.ID)
			}
			if err := p.Validate(); err != nil {
				t.Fatalf("line %d yielded an invalid profile: %v", line, err)
			}
			if _, err := json.Marshal(&p); err != nil {
				t.Fatalf("line %d: %v", line, err)
			}
		}
	})
}

// Erasure end to end: connected agents confirm by reaching the erase's
// index; an agent that is not connected is not waited for.
func TestCLI_CustomersEraseReportsAgentsThatConfirmed(t *testing.T) {
	c := cptest.New(t, 3)
	cl := c.Client(c.Leader())
	addr := c.Nodes[c.Follower()].URL()
	importFile(t, addr, c.Token, writeFile(t, "customers.csv", customersCSV), "--id-column", "customerID")
	tok := mintJoinToken(t, cl, 2)
	kiosk := startTestAgent(t, newAgentConfig(t, c, "kiosk-1", "kiosk", tok))
	startTestAgent(t, newAgentConfig(t, c, "ivr-1", "ivr", tok))
	waitFor(t, "both agents alive", 20*time.Second, func() bool {
		as, err := cl.FleetAgents(context.Background())
		alive := 0
		for _, a := range as {
			if a.Status == api.AgentAlive {
				alive++
			}
		}
		return err == nil && alive == 2
	})
	type eraseOut struct {
		Index       uint64
		Confirmed   []string
		Unconfirmed []string
	}
	var er eraseOut
	out := mustTP(t, addr, c.Token, "customers", "erase", "C1", "--wait", "20s", "-o", "json")
	if err := json.Unmarshal([]byte(out), &er); err != nil || len(er.Confirmed) != 2 || len(er.Unconfirmed) != 0 {
		t.Fatalf("erase with two agents: %v\n%s", err, out)
	}
	// The fleet's configIndex of a connected agent is what its session
	// sent it; the agent's own state follows at once.
	waitFor(t, "kiosk-1 applies the erase", 5*time.Second, func() bool { return kiosk.status().Config.Index >= er.Index })
	kiosk.stop()
	waitFor(t, "kiosk-1 no longer alive", 20*time.Second, func() bool {
		a, err := cl.FleetAgent(context.Background(), "kiosk-1")
		return err == nil && a.Status != api.AgentAlive
	})
	out = mustTP(t, addr, c.Token, "customers", "erase", "C2", "--wait", "10s")
	if !strings.Contains(out, "confirmed by 1 connected agent: ivr-1") || !strings.Contains(out, "1 agent is not connected") {
		t.Errorf("erase with one agent down:\n%s", out)
	}
}
