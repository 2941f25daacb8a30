package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol/api"
)

// An import the cluster refuses as a whole prints the error alone, as
// every command does: no summary of rows that were never sent.
func TestCLI_CustomersImportRefusedPrintsOnlyTheError(t *testing.T) {
	c := cptest.New(t, 1)
	addr := c.Nodes[c.Leader()].URL()
	var b strings.Builder
	b.WriteString("id,plan\n")
	for i := range 8 {
		fmt.Fprintf(&b, "R%d,basic\n", i)
	}
	file := writeFile(t, "customers.csv", b.String())
	analyst := newToken(t, c, api.RoleAnalyst)
	for _, tc := range []struct {
		name, addr, token, stderr string
	}{
		{"wrong token", addr, "not-a-token", "error: unauthorized: unknown token\n"},
		{"analyst", addr, analyst, "error: forbidden: role analyst may not do this"},
		{"not answering", "http://127.0.0.1:1", c.Token, "error: unreachable: POST http://127.0.0.1:1/v1/customers: "},
	} {
		for _, o := range []string{"table", "json"} {
			out, errs, code := tp(t, tc.addr, tc.token, "customers", "import", file, "-o", o)
			if code == 0 || out != "" || !strings.HasPrefix(errs, tc.stderr) || strings.Count(errs, "\n") != 1 {
				t.Errorf("%s, -o %s: exit %d\nstdout: %q\nstderr: %q\nwant only %q…", tc.name, o, code, out, errs, tc.stderr)
			}
		}
	}
	if _, errs, code := tp(t, addr, c.Token, "customers", "show", "R0"); code == 0 || !strings.Contains(errs, "not_found") {
		t.Errorf("a refused import committed R0: exit %d %s", code, errs)
	}
}

// When the cluster stops answering midway, the error says how many rows
// were committed before it; no summary.
func TestCLI_CustomersImportSaysWhatWasCommittedBeforeTheError(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			var ps []json.RawMessage
			_ = json.NewDecoder(r.Body).Decode(&ps)
			_ = json.NewEncoder(w).Encode(api.CustomersResult{Index: 41, Upserted: len(ps)})
			return
		}
		time.Sleep(100 * time.Millisecond) // the first answer arrives first
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: &api.Error{Code: api.CodeUnavailable, Message: "shutting down"}})
	}))
	t.Cleanup(srv.Close)
	var b strings.Builder
	b.WriteString("id,plan\n")
	for i := range 30_000 {
		fmt.Fprintf(&b, "P%d,basic\n", i)
	}
	out, errs, code := tp(t, srv.URL, "tok", "customers", "import", writeFile(t, "c.csv", b.String()))
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	if code == 0 || out != "" || len(lines) != 2 || calls.Load() < 2 ||
		!strings.HasPrefix(lines[0], "rows committed before the error: at least ") ||
		!strings.HasSuffix(lines[0], " (index 41); importing the file again is safe, as a re-imported id replaces its profile") ||
		lines[1] != "error: unavailable: shutting down" {
		t.Errorf("exit %d\nstdout: %q\nstderr: %q", code, out, errs)
	}
}

// End to end: a stray quote's lines are all counted as skipped, and a
// repeated id is reported, in English and in Chinese.
func TestCLI_CustomersImportCountsStrayQuoteLinesAndRepeatedIDs(t *testing.T) {
	c := cptest.New(t, 1)
	addr := c.Nodes[c.Leader()].URL()
	body := "id,name,plan\n" + // 1
		"B1,Li Wei,basic\n" + // 2
		"B2,Wang Fang,basic\n" + // 3
		"B3,\"unterminated,basic\n" + // 4: the quote runs to line 7
		"B4,x,basic\n" + // 5
		"B5,x,basic\n" + // 6
		"B6,\"Qian, Wu\",basic\n" + // 7
		"B1,Li Wei,5g-max\n" + // 8: B1 again, the last row of B1
		"B7,x,basic\n" // 9
	file := writeFile(t, "stray.csv", body)
	out := mustTP(t, addr, c.Token, "customers", "import", file, "-o", "json")
	var r struct {
		importJSON
		Customers int `json:"customers"`
		Repeated  int `json:"repeated"`
		Errors    []struct {
			Line     int    `json:"line"`
			LastLine int    `json:"lastLine"`
			Reason   string `json:"reason"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Imported != 4 || r.Skipped != 4 || r.Imported+r.Skipped != 8 || r.Customers != 3 || r.Repeated != 1 ||
		len(r.Errors) != 1 || r.Errors[0].Line != 4 || r.Errors[0].LastLine != 7 {
		t.Fatalf("-o json:\n%s", out)
	}
	if a, _ := showJSON(t, addr, c.Token, "B1")["attributes"].(map[string]any); a["plan"] != "5g-max" {
		t.Errorf("B1 %v: the last row wins", a)
	}
	out = mustTP(t, addr, c.Token, "customers", "import", file)
	for _, s := range []string{
		"imported 4 rows (3 customers: 1 row repeats an id seen earlier in the file; the last row of an id wins), skipped 4 rows (index ",
		"  malformed CSV  4\n",
		`  lines 4–7: malformed CSV: a quote opened on line 4 runs to line 7 (extraneous or missing " in quoted-field); these 4 lines are skipped` + "\n",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("lacks %q:\n%s", s, out)
		}
	}
	t.Setenv("TOUCHPOINT_LANG", "zh")
	out = mustTP(t, addr, c.Token, "customers", "import", file)
	for _, s := range []string{"已导入 4 行（3 个客户：1 行的编号与文件中前面的行重复；同一编号以最后一行为准），跳过 4 行（索引 ", "  第 4–7 行：malformed CSV"} {
		if !strings.Contains(out, s) {
			t.Errorf("lacks %q:\n%s", s, out)
		}
	}
}
