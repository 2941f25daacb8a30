package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// csvRows is a CSV of header id,name,v and one data row per entry, the
// n-th on line n+1.
func csvRows(rows ...string) string {
	return "id,name,v\n" + strings.Join(rows, "\n")
}

// importString imports body (CSV, or JSON Lines when name says so)
// through fakeUpserter.
func importString(t *testing.T, name, body string, cfg importConfig) (*importReport, *fakeUpserter) {
	t.Helper()
	src, err := openSource(name, bufio.NewReader(strings.NewReader(body)), newColumns("", ""), false, false)
	if err != nil {
		t.Fatal(err)
	}
	up := &fakeUpserter{}
	rep, err := runImport(context.Background(), src, up, cfg, nil)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return rep, up
}

// A quote left open takes the following lines into its field, up to the
// next quote or the end of the file: every one of those lines is skipped
// and counted, so imported + skipped is the file's data rows, and the
// error names the lines.
func TestImportCSV_StrayQuoteSkipsEveryLineItSpans(t *testing.T) {
	for _, c := range []struct {
		name     string
		body     string
		dataRows int
		want     rowError // the one error
		imported []string // ids committed
	}{
		{
			name: "closed on a later line",
			body: csvRows("B1,a,1", "B2,a,2", `B3,"unterminated,3`, "B4,a,4", "B5,a,5", `B6,"Qian, Wu",6`, "B7,a,7", ""),
			// lines 2-8; line 4 opens a quote the one on line 7 closes
			dataRows: 7,
			want: rowError{Line: 4, LastLine: 7, Kind: kindSyntax,
				Reason: `malformed CSV: a quote opened on line 4 runs to line 7 (extraneous or missing " in quoted-field); these 4 lines are skipped`},
			imported: []string{"B1", "B2", "B7"},
		},
		{
			name:     "closed by a quote that ends a cell",
			body:     csvRows("B1,a,1", `B2,"unterminated,2`, "B3,a,3", `B4,x",4,extra`, "B5,a,5", ""),
			dataRows: 5,
			want: rowError{Line: 3, LastLine: 5, Kind: kindSyntax,
				Reason: "malformed CSV: a quote opened on line 3 runs to line 5 and makes a row of 4 columns, the header has 3; these 3 lines are skipped"},
			imported: []string{"B1", "B5"},
		},
		{
			name:     "never closed",
			body:     csvRows("B1,a,1", `B2,"unterminated,2`, "B3,a,3", "B4,a,4", ""),
			dataRows: 4,
			want: rowError{Line: 3, LastLine: 5, Kind: kindSyntax,
				Reason: `malformed CSV: a quote opened on line 3 is never closed: it runs to the end of the file at line 5 (extraneous or missing " in quoted-field); these 3 lines are skipped`},
			imported: []string{"B1"},
		},
		{
			name:     "never closed, CRLF and no final line end",
			body:     strings.ReplaceAll(csvRows("B1,a,1", `B2,"unterminated,2`, "B3,a,3", "B4,a,4"), "\n", "\r\n"),
			dataRows: 4,
			want: rowError{Line: 3, LastLine: 5, Kind: kindSyntax,
				Reason: `malformed CSV: a quote opened on line 3 is never closed: it runs to the end of the file at line 5 (extraneous or missing " in quoted-field); these 3 lines are skipped`},
			imported: []string{"B1"},
		},
		{
			name:     "never closed on the last line",
			body:     csvRows("B1,a,1", "B2,a,2", `B3,"unterminated,3`, ""),
			dataRows: 3,
			want: rowError{Line: 4, Kind: kindSyntax,
				Reason: `malformed CSV: a quote opened on line 4 is never closed (extraneous or missing " in quoted-field)`},
			imported: []string{"B1", "B2"},
		},
		{
			name:     "a bare quote on one line",
			body:     csvRows("B1,a,1", `B2,Zh"ao,2`, "B3,a,3", ""),
			dataRows: 3,
			want:     rowError{Line: 3, Kind: kindSyntax, Reason: `malformed CSV: bare " in non-quoted-field`},
			imported: []string{"B1", "B3"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, up := importString(t, "f.csv", c.body, importConfig{BatchRows: 2, InFlight: 2})
			if rep.Imported+rep.Skipped != c.dataRows || rep.Skipped != c.want.rows() || len(rep.Errors) != 1 {
				t.Fatalf("imported %d + skipped %d, want %d data rows; errors %+v", rep.Imported, rep.Skipped, c.dataRows, rep.Errors)
			}
			if got := rep.Errors[0]; got != c.want {
				t.Errorf("error\n got %+v\nwant %+v", got, c.want)
			}
			if rep.byKind[kindSyntax] != c.want.rows() {
				t.Errorf("by kind %v", rep.byKind)
			}
			if !sameIDs(up.got, c.imported) {
				t.Errorf("committed %v, want %v", up.got, c.imported)
			}
		})
	}
}

// A quoted cell may hold line ends (RFC 4180): one row, imported.
func TestImportCSV_QuotedLineEndsAreOneRow(t *testing.T) {
	rep, up := importString(t, "f.csv", csvRows("B1,\"two\nlines\",1", "B2,a,2", ""), importConfig{})
	if rep.Imported != 2 || rep.Skipped != 0 || !sameIDs(up.got, []string{"B1", "B2"}) {
		t.Fatalf("%+v, committed %v", rep, up.got)
	}
}

func sameIDs(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for _, id := range want {
		seen[id]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestImportJSONLines_ARowThatIsNoObjectSaysWhatItIs(t *testing.T) {
	for in, want := range map[string]string{
		`[1,2]`:      "malformed JSON: a JSON Lines row must be a JSON object, not an array",
		` 12`:        "malformed JSON: a JSON Lines row must be a JSON object, not a number",
		`"C1"`:       "malformed JSON: a JSON Lines row must be a JSON object, not a string",
		`true`:       "malformed JSON: a JSON Lines row must be a JSON object, not a boolean",
		`null`:       "malformed JSON: a JSON Lines row must be a JSON object, not null",
		`{"id":"C1"`: "malformed JSON: unexpected EOF",
		`{} {}`:      "malformed JSON: more than one value on the line",
	} {
		_, re := profileFromJSON([]byte(in), newColumns("", ""), 3)
		if re == nil || re.Reason != want || re.Line != 3 || re.Kind != kindJSON {
			t.Errorf("%s: %+v, want %q", in, re, want)
		}
	}
}

// A bad cell names its column quoted: `column "name"` is the column, not
// a header problem.
func TestImportCSV_ABadCellQuotesItsColumnName(t *testing.T) {
	plan, err := planHeader([]string{"id", "name", "plan", "dnd"}, newColumns("", ""), false, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		rec  []string
		want string
	}{
		{[]string{"C1", "\xff\xfe", "basic", ""}, `invalid UTF-8 in column "name"`},
		{[]string{"C1", "x", strings.Repeat("p", protocol.MaxAttributeValue+1), ""}, `value too long: column "plan" is 4097 bytes; at most 4096`},
		{[]string{"C1", "x", "basic", "maybe"}, `not a yes/no value: column "dnd": "maybe" (use yes/no or true/false)`},
	} {
		_, re := profileFromRow(plan, c.rec, 5)
		if re == nil || re.Reason != c.want || re.Line != 5 {
			t.Errorf("%q: %+v, want %q", c.rec, re, c.want)
		}
	}
}

// endlessRows is a file without end: an import that does not stop
// reading never returns.
type endlessRows struct{ n atomic.Int64 }

func (s *endlessRows) next() (protocol.Profile, int, error) {
	n := s.n.Add(1)
	return protocol.Profile{ID: "C" + strconv.FormatInt(n, 10)}, int(n) + 1, nil
}

// refusingUpserter answers every request with err.
type refusingUpserter struct {
	err   error
	calls atomic.Int64
}

func (f *refusingUpserter) UpsertCustomersJSON(context.Context, []byte) (*api.CustomersResult, error) {
	f.calls.Add(1)
	return nil, f.err
}

// An answer that refuses the request as a whole (not one of its rows)
// ends the import at once: no more reading or sending, no row counted as
// skipped, the answer returned as the error.
func TestRunImport_StopsAtTheFirstAnswerThatRefusesTheRequest(t *testing.T) {
	unreachable := &api.RequestError{Method: "POST", URL: "http://127.0.0.1:1/v1/customers",
		Err: &url.Error{Op: "Post", URL: "http://127.0.0.1:1/v1/customers", Err: syscall.ECONNREFUSED}}
	for name, refusal := range map[string]error{
		"unauthorized": &api.Error{Code: api.CodeUnauthorized, Message: "unknown token", Status: 401},
		"forbidden":    &api.Error{Code: api.CodeForbidden, Message: "role analyst may not do this", Status: 403},
		"unreachable":  unreachable,
		"no leader":    &api.Error{Code: api.CodeNoLeader, Message: "no leader", Status: 503},
		"not found":    &api.Error{Code: api.CodeInternal, Message: "HTTP 404: <html>", Status: 404},
		"bad body":     &api.Error{Code: api.CodeInvalidJSON, Message: "the body must be a JSON array of customer profiles", Status: 400},
	} {
		t.Run(name, func(t *testing.T) {
			src, up := &endlessRows{}, &refusingUpserter{err: refusal}
			cfg := importConfig{BatchRows: 50, InFlight: 4}
			type result struct {
				rep *importReport
				err error
			}
			done := make(chan result, 1)
			go func() {
				rep, err := runImport(context.Background(), src, up, cfg, nil)
				done <- result{rep, err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("the import went on reading after the refusal")
			}
			if r.err != refusal {
				t.Fatalf("error %v, want %v", r.err, refusal)
			}
			if r.rep.Imported != 0 || r.rep.Skipped != 0 || len(r.rep.Errors) != 0 {
				t.Errorf("report %+v: a refused request is no skipped row", r.rep)
			}
			if n := up.calls.Load(); n != 1 {
				t.Errorf("%d requests after the first was refused", n)
			}
		})
	}
}

func TestImportRequestRefused_RowsOrTheWholeRequest(t *testing.T) {
	at := func(e *api.Error, i int) *api.Error { return e.InDocument(i, "") }
	invalid := &api.Error{Code: api.CodeInvalidField, Message: "x", Status: 400}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"a row", at(invalid, 3), false},
		{"a row of another code", at(&api.Error{Code: api.CodeUnknownField, Status: 400}, 0), false},
		{"a row past the batch", at(invalid, 10), true},
		{"invalid profiles", invalid, false},
		{"too large", &api.Error{Code: api.CodeBodyTooLarge, Status: 413}, false},
		{"unauthorized", &api.Error{Code: api.CodeUnauthorized, Status: 401}, true},
		{"forbidden", &api.Error{Code: api.CodeForbidden, Status: 403}, true},
		{"unavailable", &api.Error{Code: api.CodeUnavailable, Status: 503}, true},
		{"timeout", &api.Error{Code: api.CodeTimeout, Status: 504}, true},
		{"internal", &api.Error{Code: api.CodeInternal, Status: 500}, true},
		{"no answer", errors.New("dial tcp: connection refused"), true},
	} {
		if got := requestRefused(c.err, 10); got != c.want {
			t.Errorf("%s (%v): %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

// Imported counts rows; Customers the distinct ids among them and
// Repeated the rows whose id an earlier imported row had. A refused row
// counts in neither.
func TestRunImport_CountsRowsThatRepeatAnID(t *testing.T) {
	body := csvRows("A,a,1", "B,a,1", "A,a,2", "C,a,1", "A,a,3", "Xbad,a,1", "B,a,2", "Xbad,a,2", "")
	rep, up := importString(t, "f.csv", body, importConfig{BatchRows: 2, InFlight: 3})
	if rep.Imported != 6 || rep.Customers != 3 || rep.Repeated != 3 || rep.Skipped != 2 || len(up.got) != 6 {
		t.Fatalf("%+v", rep)
	}
	rep, _ = importString(t, "f.csv", csvRows("A,a,1", "B,a,1", ""), importConfig{})
	if rep.Imported != 2 || rep.Customers != 2 || rep.Repeated != 0 {
		t.Fatalf("no repeats: %+v", rep)
	}
}

func TestPrintImportReport_CountsReadRight(t *testing.T) {
	span := rowError{Line: 4, LastLine: 8, Kind: kindSyntax, Reason: "malformed CSV: a quote opened on line 4 runs to line 8 (…); these 5 lines are skipped"}
	one := rowError{Line: 2, Kind: kindID, Reason: "bad customer id: no customer id"}
	many := &importReport{Imported: 30, Customers: 30, Index: 9}
	for i := range 25 {
		many.skip(&rowError{Line: 40 + i, Kind: kindID, Reason: "bad customer id: no customer id"})
	}
	for _, c := range []struct {
		name, lang string
		rep        *importReport
		want       []string
	}{
		{"one of each", "en", &importReport{Imported: 1, Customers: 1, Skipped: 1, Index: 7, Errors: []rowError{one}, byKind: map[string]int{kindID: 1}},
			[]string{"imported 1 customer, skipped 1 row (index 7)\n", "  bad customer id  1\n", "  line 2: bad customer id: no customer id\n"}},
		{"none skipped", "en", &importReport{Imported: 2, Customers: 2, Index: 7},
			[]string{"imported 2 customers, skipped 0 rows (index 7)\n"}},
		{"repeated ids", "en", &importReport{Imported: 19981, Customers: 19980, Repeated: 1, Index: 7},
			[]string{"imported 19981 rows (19980 customers: 1 row repeats an id seen earlier in the file; the last row of an id wins), skipped 0 rows (index 7)\n"}},
		{"one customer, repeated", "en", &importReport{Imported: 3, Customers: 1, Repeated: 2, Index: 7},
			[]string{"imported 3 rows (1 customer: 2 rows repeat an id seen earlier in the file; the last row of an id wins), skipped 0 rows (index 7)\n"}},
		{"a span", "en", &importReport{Imported: 2, Customers: 2, Skipped: 5, Index: 7, Errors: []rowError{span}, byKind: map[string]int{kindSyntax: 5}},
			[]string{"skipped 5 rows", "  malformed CSV  5\n", "  lines 4–8: malformed CSV: a quote opened on line 4"}},
		{"more than listed", "en", many,
			[]string{"skipped 25 rows", "  … 5 rows not listed (-o json lists the first 100)\n"}},
		{"Chinese", "zh", &importReport{Imported: 1, Customers: 1, Skipped: 5, Index: 7, Errors: []rowError{span}, byKind: map[string]int{kindSyntax: 5}},
			[]string{"已导入 1 个客户，跳过 5 行（索引 7）\n", "  第 4–8 行：", "跳过原因统计"}},
		{"Chinese, repeated", "zh", &importReport{Imported: 3, Customers: 2, Repeated: 1, Index: 7},
			[]string{"已导入 3 行（2 个客户：1 行的编号与文件中前面的行重复；同一编号以最后一行为准），跳过 0 行（索引 7）\n"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			e := &env{stdout: &out, stderr: &out, lang: c.lang}
			if err := e.printImportReport(c.rep, "table"); err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("lacks %q:\n%s", w, out.String())
				}
			}
			for _, bad := range []string{" 1 rows", " 1 customers", " 1 rows repeat"} {
				if strings.Contains(out.String(), bad) {
					t.Errorf("%q:\n%s", bad, out.String())
				}
			}
		})
	}
}

// -o json keeps its fields and adds customers, repeated and an error's
// lastLine.
func TestPrintImportReport_JSONFields(t *testing.T) {
	var out bytes.Buffer
	e := &env{stdout: &out, stderr: &out, lang: "en"}
	rep := &importReport{Imported: 3, Customers: 2, Repeated: 1, Index: 7}
	rep.skip(&rowError{Line: 4, LastLine: 8, Kind: kindSyntax, Reason: "malformed CSV: …"})
	rep.skip(&rowError{Line: 9, Kind: kindID, Reason: "bad customer id: no customer id"})
	if err := e.printImportReport(rep, "json"); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"imported": 3.0, "skipped": 6.0, "index": 7.0, "customers": 2.0, "repeated": 1.0, "replaced": 0.0,
		"errors": []any{
			map[string]any{"line": 4.0, "lastLine": 8.0, "reason": "malformed CSV: …"},
			map[string]any{"line": 9.0, "reason": "bad customer id: no customer id"},
		}}
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Errorf("-o json\n got %s\nwant %s", g, w)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// FuzzImportCSV_EachLineCountedOnce: whatever the quotes, the rows a CSV
// source yields (profiles and skipped spans) follow each other without
// overlapping and stay within the file's lines, so imported + skipped
// never counts a line twice.
func FuzzImportCSV_EachLineCountedOnce(f *testing.F) {
	f.Add([]byte(csvRows("B1,a,1", `B2,"unterminated,2`, "B3,a,3", `B4,"Qian, Wu",4`, "B5,a,5")))
	f.Add([]byte(csvRows("B1,a,1", `B2,"unterminated,2`, "B3,a,3", `B4,x",4,extra`, "")))
	f.Add([]byte(csvRows("B1,\"two\nlines\",1", `B2,"x`, "\r\n\n")))
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := openSource("f.csv", bufio.NewReader(bytes.NewReader(data)), newColumns("", ""), false, false)
		if err != nil {
			return
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		prev := 1 // the header's line, at least
		for range 10_000 {
			_, line, err := src.next()
			if err == io.EOF {
				return
			}
			end := line
			var re *rowError
			if errors.As(err, &re) {
				if re.LastLine != 0 && re.LastLine <= re.Line {
					t.Fatalf("span %d-%d", re.Line, re.LastLine)
				}
				end = re.Line + re.rows() - 1
			} else if err != nil {
				return
			}
			if line <= prev || end > lines {
				t.Fatalf("row at lines %d-%d after line %d, in a file of %d lines", line, end, prev, lines)
			}
			prev = end
		}
	})
}

// A spreadsheet's byte-order mark and spaces around names are not part of
// the names: the id column is found, the attribute is "plan".
func TestImportCSV_HeaderNamesDropTheByteOrderMarkAndSpaces(t *testing.T) {
	plan, err := planHeader([]string{"\ufeff customerID ", " plan"}, newColumns("", ""), false, false)
	if err != nil {
		t.Fatal(err)
	}
	if plan[0].role != roleID || plan[1].name != "plan" {
		t.Fatalf("plan %+v", plan)
	}
}
