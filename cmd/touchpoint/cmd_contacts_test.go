package main

import "testing"

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
