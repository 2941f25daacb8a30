package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"touchpoint.dev/touchpoint/protocol/api"
)

// TestMain lets the test binary stand in for the touchpoint binary when a
// command starts it again (touchpoint load starts its ceiling that way).
func TestMain(m *testing.M) {
	if os.Getenv(runAsCLIEnv) == "1" {
		os.Exit(run(context.Background(), os.Args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

const runAsCLIEnv = "TOUCHPOINT_TEST_RUN_AS_CLI"

// fakeDecisionAgent is a test double for an agent's decision API: it
// answers every decision request with the same decision and counts them.
func fakeDecisionAgent(t *testing.T, status int) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/v1/decisions" || !strings.Contains(string(body), `"customerId":"C`) {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		n.Add(1)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"decisionId":"d1","customerId":"C1","channel":"kiosk","offers":[]}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestLoad_DrivesTheAgentAndACeilingInItsOwnProcess(t *testing.T) {
	t.Setenv(runAsCLIEnv, "1")
	agent, served := fakeDecisionAgent(t, http.StatusOK)
	for _, where := range []string{ceilingProcess, ceilingInProcess} {
		t.Run(where, func(t *testing.T) {
			before := served.Load()
			out, errOut, code := tp(t, "http://127.0.0.1:1", "", "load", "--agent", agent.URL, "--connections", "4", "--customers", "50",
				"--duration", "300ms", "--warmup", "50ms", "--ceiling", where, "-o", "json")
			if code != 0 {
				t.Fatalf("load: exit %d: %s", code, errOut)
			}
			var rep loadReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("load -o json: %v: %s", err, out)
			}
			if rep.Agent.Requests == 0 || rep.Agent.Errors != 0 || rep.Ceiling == nil || rep.Ceiling.Requests == 0 || rep.Ceiling.Errors != 0 {
				t.Fatalf("report: %s", out)
			}
			if rep.CeilingIn != where || rep.ThroughputShare <= 0 || rep.P99Ratio <= 0 {
				t.Fatalf("report: %s", out)
			}
			// Every agent request counted was served by the agent; the
			// ceiling's were not (the capture adds one).
			if got := served.Load() - before; got < int64(rep.Agent.Requests) || got > int64(rep.Agent.Requests)+int64(2*4*1000) {
				t.Fatalf("the agent served %d requests, the report counts %d", got, rep.Agent.Requests)
			}
		})
	}
}

// Requests the agent refuses are left out of the figures and listed by
// kind: a 404 is a customer beyond the base.
func TestLoad_ListsTheErrorsByKind(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), `"customerId":"C2`) { // C2 and C20; C1 answers the capture
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"code":"unknown_customer","message":"x"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"decisionId":"d1","customerId":"C1","channel":"kiosk","offers":[]}`))
	}))
	t.Cleanup(srv.Close)
	out, errOut, code := tp(t, "http://127.0.0.1:1", "", "load", "--agent", srv.URL, "--connections", "2", "--customers", "20",
		"--duration", "200ms", "--warmup", "20ms", "--no-ceiling")
	if code != 0 || !strings.Contains(out, "agent errors: ") || !strings.Contains(out, "× status 404 (customers the agent does not know") {
		t.Fatalf("load against an agent that does not know C2 and C20: exit %d\n%s%s", code, out, errOut)
	}
}

// A load run's decisions are dry runs, which log no holdout contact;
// --log-holdouts sends real ones. The fake agent decodes each body as the
// agent does.
func TestLoad_DecisionsAreDryRunsUnlessHoldoutsAreLogged(t *testing.T) {
	t.Setenv(runAsCLIEnv, "1")
	var dry, real atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := api.DecodeDecisionRequest(r.Body, 0)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		if req.DryRun {
			dry.Add(1)
		} else {
			real.Add(1)
		}
		_, _ = w.Write([]byte(`{"decisionId":"d1","customerId":"C1","channel":"kiosk","offers":[]}`))
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		flags     []string
		dry, real bool
	}{{nil, true, false}, {[]string{"--log-holdouts"}, false, true}} {
		dry.Store(0)
		real.Store(0)
		args := append([]string{"load", "--agent", srv.URL, "--connections", "2", "--customers", "20", "--duration", "100ms", "--warmup", "10ms", "--no-ceiling"}, tc.flags...)
		if _, errOut, code := tp(t, "http://127.0.0.1:1", "", args...); code != 0 {
			t.Fatalf("load %v: exit %d: %s", tc.flags, code, errOut)
		}
		if (dry.Load() > 0) != tc.dry || (real.Load() > 0) != tc.real {
			t.Fatalf("load %v: %d dry runs, %d real decisions", tc.flags, dry.Load(), real.Load())
		}
	}
}

func TestLoad_ReportsWhatGoesWrong(t *testing.T) {
	missing, _ := fakeDecisionAgent(t, http.StatusNotFound)
	if _, errOut, code := tp(t, "http://127.0.0.1:1", "", "load", "--agent", missing.URL, "--duration", "100ms", "--no-ceiling"); code == 0 || !strings.Contains(errOut, "answered 404") {
		t.Fatalf("an agent answering 404: exit %d: %s", code, errOut)
	}
	ok, _ := fakeDecisionAgent(t, http.StatusOK)
	if _, errOut, code := tp(t, "http://127.0.0.1:1", "", "load", "--agent", ok.URL, "--ceiling", "elsewhere"); code == 0 || !strings.Contains(errOut, "--ceiling") {
		t.Fatalf("--ceiling elsewhere: exit %d: %s", code, errOut)
	}
}
