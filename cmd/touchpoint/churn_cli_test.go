package main

import "testing"

// --limit and --factors below 1 are refused before any request: the API
// client sends 0 as "the default", so 0 used to be served as 50 and 3.
// Above the API's maximum the API refuses them (invalid_field), which
// TestModels_TrainStoreActivateScoreOnAgentAndWatchlist checks.
func TestChurnWatchlist_LimitAndFactorsBelowOneAreUsageErrors(t *testing.T) {
	f := newFakeAPI(t, map[string]any{"GET /v1/churn/watchlist": map[string]any{
		"model": "churn-main", "modelVersion": 1, "level": "high", "minRisk": 0.5, "customers": []any{},
	}})
	checkFlagCases(t, f, []flagCase{
		{line: "churn watchlist", wantReq: "GET /v1/churn/watchlist?factors=3&level=high&limit=50"},
		{line: "churn watchlist --limit 1 --factors 1", wantReq: "GET /v1/churn/watchlist?factors=1&level=high&limit=1"},
		{line: "churn watchlist --limit 1000 --factors 10", wantReq: "GET /v1/churn/watchlist?factors=10&level=high&limit=1000"},
		{line: "churn watchlist --factors 0", wantErr: "error: usage: --factors 0: must be between 1 and 10"},
		{line: "churn watchlist --factors -2", wantErr: "error: usage: --factors -2: must be between 1 and 10"},
		{line: "churn watchlist --limit 0", wantErr: "error: usage: --limit 0: must be between 1 and 1000"},
		{line: "churn watchlist --limit -1", wantErr: "error: usage: --limit -1: must be between 1 and 1000"},
		{line: "churn watchlist --level severe", wantErr: `error: usage: --level "severe": use low, medium, high or critical`},
	})
}
