package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeAPI is an admin API that records every request and answers the ones
// it knows ("GET /v1/audit") with a fixed JSON body, for commands whose
// flags are checked before anything is asked.
type fakeAPI struct {
	url string

	mu   sync.Mutex
	reqs []fakeRequest
}

type fakeRequest struct {
	method, uri, body string
}

func newFakeAPI(t *testing.T, answers map[string]any) *fakeAPI {
	t.Helper()
	f := &fakeAPI{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, fakeRequest{r.Method, r.URL.RequestURI(), string(body)})
		f.mu.Unlock()
		a, ok := answers[r.Method+" "+r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// requests returns the requests made since the last call.
func (f *fakeAPI) requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.reqs
	f.reqs = nil
	return r
}

// flagCase is a command line and either the one request it must make
// (its method and URI) or the usage error it must fail with, asking
// nothing.
type flagCase struct {
	line     string
	wantReq  string
	wantErr  string
	wantBody func(t *testing.T, body string)
}

func checkFlagCases(t *testing.T, f *fakeAPI, cases []flagCase) {
	t.Helper()
	t.Setenv("TOUCHPOINT_LANG", "en")
	for _, c := range cases {
		_, errs, code := tp(t, f.url, "tok", strings.Fields(c.line)...)
		reqs := f.requests()
		if c.wantErr != "" {
			if code == 0 || !strings.Contains(errs, c.wantErr) || len(reqs) != 0 {
				t.Errorf("%s: exit %d, stderr %q, %d requests; want non-zero, %q and no request", c.line, code, errs, len(reqs), c.wantErr)
			}
			continue
		}
		if code != 0 || len(reqs) == 0 || reqs[0].method+" "+reqs[0].uri != c.wantReq {
			t.Errorf("%s: exit %d, stderr %q, requests %v; want %s", c.line, code, errs, reqs, c.wantReq)
			continue
		}
		if c.wantBody != nil {
			c.wantBody(t, reqs[0].body)
		}
	}
}

// --limit is 1 to 100000 (what the API serves); unset, it is 50.
func TestAudit_LimitOutsideItsRangeIsAUsageError(t *testing.T) {
	f := newFakeAPI(t, map[string]any{"GET /v1/audit": []any{}})
	checkFlagCases(t, f, []flagCase{
		{line: "audit", wantReq: "GET /v1/audit?limit=50"},
		{line: "audit --limit 1", wantReq: "GET /v1/audit?limit=1"},
		{line: "audit --limit 100000 -o json", wantReq: "GET /v1/audit?limit=100000"},
		{line: "audit --limit 0", wantErr: "error: usage: --limit 0: must be between 1 and 100000"},
		{line: "audit --limit -1", wantErr: "error: usage: --limit -1: must be between 1 and 100000"},
		{line: "audit --limit 100001", wantErr: "error: usage: --limit 100001: must be between 1 and 100000"},
	})
}
