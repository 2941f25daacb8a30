package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/analytics/analyticstest"
	"touchpoint.dev/touchpoint/controlplane/analytics/churn"
	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func TestModelsTrain_PublishedSplitAUC(t *testing.T) {
	data := analyticstest.SharedData(t)
	train, test := filepath.Join(data, "churn-bigml-80.csv"), filepath.Join(data, "churn-bigml-20.csv")
	for _, tc := range []struct {
		kind string
		min  float64
	}{{"gbdt", 0.92}, {"logistic", 0.80}} {
		t.Run(tc.kind, func(t *testing.T) {
			save := filepath.Join(t.TempDir(), "model.json")
			// Training is local; no control plane listens at the address, so
			// the model stays local and the report says why.
			out := mustTP(t, "http://127.0.0.1:1", "unused", "models", "train", "--data", train, "--test", test,
				"--label", "Churn", "--kind", tc.kind, "--save", save, "-o", "json")
			var rep struct {
				ID        string `json:"id"`
				Kind      string `json:"kind"`
				Catalogue string `json:"catalogue"`
				Metrics   struct {
					AUC      float64 `json:"auc"`
					Accuracy float64 `json:"accuracy"`
					Rows     int     `json:"rows"`
				} `json:"metrics"`
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if !strings.HasPrefix(rep.ID, "churn-"+tc.kind+"-") || rep.Kind != tc.kind {
				t.Errorf("id %q kind %q", rep.ID, rep.Kind)
			}
			if !strings.HasPrefix(rep.Catalogue, "not stored: no control plane reachable at http://127.0.0.1:1") {
				t.Errorf("catalogue %q: want the unreachable control plane named", rep.Catalogue)
			}
			if rep.Metrics.AUC < tc.min || rep.Metrics.Rows != 667 {
				t.Errorf("auc %.4f on %d rows, want ≥ %.2f on 667", rep.Metrics.AUC, rep.Metrics.Rows, tc.min)
			}
			doc, err := os.ReadFile(save)
			if err != nil {
				t.Fatal(err)
			}
			m, err := churn.Decode(doc)
			if err != nil {
				t.Fatalf("saved model: %v", err)
			}
			if m.Kind != tc.kind || m.Metrics == nil || m.Metrics.AUC != rep.Metrics.AUC {
				t.Errorf("saved model kind %q metrics %+v", m.Kind, m.Metrics)
			}
		})
	}
}

func TestModelsTrain_TableAndHoldout(t *testing.T) {
	data := analyticstest.SharedData(t)
	out := mustTP(t, "http://127.0.0.1:1", "", "models", "train", "--data", filepath.Join(data, "churn-bigml-80.csv"),
		"--holdout", "0.2", "--label", "Churn", "--kind", "logistic", "--no-store")
	for _, want := range []string{"ROC AUC", "accuracy@0.5", "PRECISION", "RECALL", "OBSERVED RATE", "0.9–1.0", "holdout: 534 rows", "catalogue: not stored: --no-store"} {
		if !strings.Contains(out, want) {
			t.Errorf("table output lacks %q:\n%s", want, out)
		}
	}
}

// A text column with a different value on every row (an id column not
// named with --id) trains as one level per row: the command warns and
// names the flag; with --id, or on the churn data set, it does not.
func TestModelsTrain_WarnsOfAnIdentifierColumn(t *testing.T) {
	var b strings.Builder
	b.WriteString("customerID,minutes,Churn\n")
	for i := range 80 {
		fmt.Fprintf(&b, "K%03d,%d,%v\n", i, 100+i*7%50, i%3 == 0)
	}
	file := filepath.Join(t.TempDir(), "ids.csv")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	warning := "warning: column customerID has a different value on each of the 80 rows of " + file
	args := []string{"models", "train", "--data", file, "--holdout", "0.2", "--label", "Churn", "--kind", "logistic", "--no-store"}
	if _, errOut, code := tp(t, "http://127.0.0.1:1", "", args...); code != 0 || !strings.Contains(errOut, warning) || !strings.Contains(errOut, "--id customerID") {
		t.Fatalf("exit %d, stderr %q: want %q", code, errOut, warning)
	}
	if _, errOut, code := tp(t, "http://127.0.0.1:1", "", append(args, "--id", "customerID")...); code != 0 || strings.Contains(errOut, "warning") {
		t.Fatalf("with --id: exit %d, stderr %q", code, errOut)
	}
	data := analyticstest.SharedData(t)
	if _, errOut, code := tp(t, "http://127.0.0.1:1", "", "models", "train", "--data", filepath.Join(data, "churn-bigml-80.csv"),
		"--holdout", "0.2", "--label", "Churn", "--kind", "logistic", "--no-store"); code != 0 || strings.Contains(errOut, "warning") {
		t.Fatalf("churn data set: exit %d, stderr %q", code, errOut)
	}
}

func TestModelsTrain_BadInputsFail(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("x,Churn\n1,True\n2,perhaps\n3,False\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"--data", filepath.Join(dir, "none.csv"), "--holdout", "0.2", "--label", "Churn"}, "no such file"},
		{"bad label", []string{"--data", bad, "--holdout", "0.2", "--label", "Churn"}, "line 3"},
		{"unknown label column", []string{"--data", bad, "--holdout", "0.2", "--label", "Left"}, `"Left" not in the header`},
		{"no evaluation set", []string{"--data", bad, "--label", "Churn"}, "error: usage: give --test FILE or --holdout"},
		{"bad kind", []string{"--data", bad, "--holdout", "0.2", "--label", "Churn", "--kind", "forest"}, "error: usage: --kind"},
		{"bad fraction", []string{"--data", bad, "--holdout", "1.2", "--label", "Churn"}, "error: usage: --holdout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, code := tp(t, "http://127.0.0.1:1", "", append([]string{"models", "train"}, tc.args...)...)
			if code == 0 || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q: want non-zero and %q", code, errs, tc.want)
			}
		})
	}
}

// churnProfiles turns the first n rows of a churn CSV into customer
// profiles T0000, T0001, …: numbers as numbers, the rest as strings, the
// label left out (the agent never sees it).
func churnProfiles(t *testing.T, file string, n int) []protocol.Profile {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ds, err := churn.Load(f, churn.LoadOptions{Label: "Churn"})
	if err != nil {
		t.Fatal(err)
	}
	var out []protocol.Profile
	for r := range min(n, ds.Len()) {
		p := protocol.Profile{ID: fmt.Sprintf("T%04d", r), Region: "sh", Attributes: map[string]any{}}
		for _, c := range ds.Columns {
			if v, err := json.Number(c.Cells[r]).Float64(); err == nil && !c.Categorical {
				p.Attributes[c.Name] = v
			} else if c.Cells[r] != "" {
				p.Attributes[c.Name] = c.Cells[r]
			}
		}
		out = append(out, p)
	}
	return out
}

type modelListing struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	Status  string `json:"status"`
	Metrics struct {
		AUC float64 `json:"auc"`
	} `json:"metrics"`
}

func listModels(t *testing.T, addr, token string) map[string]modelListing {
	t.Helper()
	var list []modelListing
	out := mustTP(t, addr, token, "models", "ls", "-o", "json")
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("models ls: %v: %s", err, out)
	}
	by := map[string]modelListing{}
	for _, m := range list {
		by[m.ID] = m
	}
	return by
}

// TestModels_TrainStoreActivateScoreOnAgentAndWatchlist is issue 5 end to
// end: `models train` stores a GBDT and two versions of a named logistic
// model in the catalogue, `models activate` makes one active (and the
// other inactive), an agent receives it through the change feed and
// scores its customers in every decision, and `churn watchlist` lists the
// riskiest customers with their risk factors — the same risk the agent
// answers with.
func TestModels_TrainStoreActivateScoreOnAgentAndWatchlist(t *testing.T) {
	data := analyticstest.SharedData(t)
	trainCSV, testCSV := filepath.Join(data, "churn-bigml-80.csv"), filepath.Join(data, "churn-bigml-20.csv")
	c := cptest.New(t, 1)
	cl := c.Client(0)
	addr := c.Nodes[0].URL()

	type trained struct {
		ID      string `json:"id"`
		Metrics struct {
			AUC      float64 `json:"auc"`
			Accuracy float64 `json:"accuracy"`
		} `json:"metrics"`
		Catalogue string                `json:"catalogue"`
		Stored    *api.ModelStoreResult `json:"stored"`
	}
	train := func(extra ...string) trained {
		t.Helper()
		args := append([]string{"models", "train", "--data", trainCSV, "--test", testCSV, "--label", "Churn", "-o", "json"}, extra...)
		var rep trained
		out := mustTP(t, addr, c.Token, args...)
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return rep
	}
	gbdt := train("--kind", "gbdt")
	if gbdt.Stored == nil || gbdt.Stored.ID != gbdt.ID || gbdt.Stored.Version != 1 || gbdt.Stored.Status != "inactive" || gbdt.Metrics.AUC < 0.92 {
		t.Fatalf("gbdt: %+v", gbdt)
	}
	if !strings.Contains(gbdt.Catalogue, "stored in the catalogue as Model "+gbdt.ID+" version 1") {
		t.Errorf("catalogue %q", gbdt.Catalogue)
	}
	v1 := train("--kind", "logistic", "--name", "churn-main")
	v2 := train("--kind", "logistic", "--name", "churn-main")
	if v1.Stored == nil || v2.Stored == nil || v1.ID != "churn-main" || v1.Stored.Version != 1 || v2.Stored.Version != 2 || v2.Metrics.AUC < 0.80 {
		t.Fatalf("churn-main versions: %+v then %+v", v1.Stored, v2.Stored)
	}
	models := listModels(t, addr, c.Token)
	if len(models) != 2 || models["churn-main"].Version != 2 || models[gbdt.ID].Status != "inactive" || models[gbdt.ID].Metrics.AUC != gbdt.Metrics.AUC {
		t.Fatalf("models ls: %+v", models)
	}

	// One active at a time: activating the GBDT deactivates churn-main.
	mustTP(t, addr, c.Token, "models", "activate", "churn-main")
	out := mustTP(t, addr, c.Token, "models", "activate", gbdt.ID)
	if !strings.Contains(out, "deactivated: churn-main") {
		t.Errorf("activate output: %s", out)
	}
	models = listModels(t, addr, c.Token)
	if models[gbdt.ID].Status != "active" || models["churn-main"].Status != "inactive" {
		t.Fatalf("after activating %s: %+v", gbdt.ID, models)
	}
	// A retrained active id stays active (and agents move to it).
	if again := train("--kind", "gbdt"); again.Stored == nil || again.Stored.Version != 2 || again.Stored.Status != "active" {
		t.Fatalf("the active model retrained: %+v", again.Stored)
	}

	profiles := churnProfiles(t, testCSV, 60)
	// Two customers from another source, with none of the model's
	// features: scanned, not scored.
	strangers := []protocol.Profile{
		{ID: "X1", Attributes: map[string]any{"recencyDays": 3.0, "totalSpend": 120.0}},
		{ID: "X2", Attributes: map[string]any{"State": "KS"}},
	}
	if _, err := cl.UpsertCustomers(context.Background(), append(slices.Clone(profiles), strangers...)); err != nil {
		t.Fatal(err)
	}
	ag := startTestAgent(t, newAgentConfig(t, c, "ivr-1", "ivr", mintJoinToken(t, cl, 1)))
	waitFor(t, "the agent to score with "+gbdt.ID, 20*time.Second, func() bool {
		d, code, _ := ag.decide(t, `{"customerId":"T0000","channel":"ivr"}`)
		return code == 200 && d.ChurnModel == gbdt.ID && d.ChurnModelVersion == 2
	})

	var wl api.Watchlist
	out = mustTP(t, addr, c.Token, "churn", "watchlist", "--level", "medium", "--limit", "5", "-o", "json")
	if err := json.Unmarshal([]byte(out), &wl); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if wl.Model != gbdt.ID || wl.Scanned != len(profiles)+2 || wl.Unscored != 2 || wl.Matched < 1 || len(wl.Customers) != min(5, wl.Matched) || wl.MinRisk != 0.3 {
		t.Fatalf("watchlist: %s", out)
	}
	for i, w := range wl.Customers {
		if w.ChurnRisk < wl.MinRisk || (i > 0 && w.ChurnRisk > wl.Customers[i-1].ChurnRisk) || len(w.Factors) == 0 || w.Factors[0].Contribution <= 0 {
			t.Fatalf("watchlist entry %d out of order, below the level or without factors: %s", i, out)
		}
		// The agent scores the customer exactly as the watchlist does.
		d, code, body := ag.decide(t, `{"customerId":"`+w.CustomerID+`","channel":"ivr"}`)
		if code != 200 || d.ChurnRisk == nil || math.Abs(*d.ChurnRisk-w.ChurnRisk) > 1e-12 || d.ChurnLevel != w.ChurnLevel {
			t.Fatalf("%s: agent says %s, watchlist %.6f %s", w.CustomerID, body, w.ChurnRisk, w.ChurnLevel)
		}
	}
	table := mustTP(t, addr, c.Token, "churn", "watchlist", "--level", "medium", "--limit", "3")
	if !strings.Contains(table, "TOP RISK FACTORS") || !strings.Contains(table, wl.Customers[0].CustomerID) ||
		!strings.Contains(table, "2 of them not scored") {
		t.Errorf("watchlist table:\n%s", table)
	}
	t.Logf("touchpoint models ls:\n%s\ntouchpoint churn watchlist --level medium --limit 3:\n%s", mustTP(t, addr, c.Token, "models", "ls"), table)

	// Bad input: a clear error with a stable code.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"churn", "watchlist", "--level", "severe"}, "--level"},
		{[]string{"churn", "watchlist", "--limit", "5000"}, "error: usage: --limit 5000: must be between 1 and 1000"},
		{[]string{"models", "activate", "no-such-model"}, "not_found"},
	} {
		if _, errs, code := tp(t, addr, c.Token, tc.args...); code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q: want non-zero and %q", tc.args, code, errs, tc.want)
		}
	}
	// The API checks what the CLI does not.
	ctx := context.Background()
	if _, err := cl.ChurnWatchlist(ctx, api.WatchlistQuery{Level: "severe"}); api.CodeOf(err) != api.CodeInvalidField {
		t.Errorf("watchlist level severe: %v", err)
	}
	if _, err := cl.ChurnWatchlist(ctx, api.WatchlistQuery{Factors: 11}); api.CodeOf(err) != api.CodeInvalidField {
		t.Errorf("watchlist factors 11: %v", err)
	}
	if _, err := cl.StoreModel(ctx, []byte(`{"kind":"Offer","id":"o","category":"care"}`)); api.CodeOf(err) != api.CodeInvalidField {
		t.Errorf("storing an Offer as a model: %v", err)
	}
	if _, err := cl.StoreModel(ctx, []byte(`{"kind":"Model","id":"m","modelKind":"logistic","model":{"kind":"logistic","features":[],"coefficients":[1]}}`)); api.CodeOf(err) != api.CodeInvalidModel {
		t.Errorf("storing a model that cannot score: %v", err)
	}
	if _, err := cl.StoreModel(ctx, []byte(`not json`)); api.CodeOf(err) != api.CodeInvalidJSON {
		t.Errorf("storing junk: %v", err)
	}
	// A control plane that refuses the model: the report and stderr say
	// why, with the code, and the exit status is non-zero.
	out, errs, code := tp(t, addr, "not-a-token", "models", "train", "--data", trainCSV, "--test", testCSV, "--label", "Churn", "--kind", "logistic", "-o", "json")
	if code == 0 || !strings.Contains(errs, "unauthorized") || !strings.Contains(out, `"catalogue": "not stored: unauthorized`) || !strings.Contains(out, `"auc"`) {
		t.Errorf("refused store: exit %d, stdout %s, stderr %s", code, out, errs)
	}
	// With no model active the watchlist says what to do.
	mustTP(t, addr, c.Token, "models", "deactivate", gbdt.ID)
	if _, errs, code := tp(t, addr, c.Token, "churn", "watchlist"); code == 0 || !strings.Contains(errs, "no_active_model") {
		t.Errorf("watchlist without an active model: exit %d, %s", code, errs)
	}
}
