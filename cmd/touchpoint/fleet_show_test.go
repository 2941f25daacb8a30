package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol/api"
)

// fleet show prints every field of the agent, where fleet ls has a row of
// the most used ones: the session, certificate, enrollment and gossip
// address too.
func TestFleetDetail_ShowsWhatFleetLsLeavesOut(t *testing.T) {
	enrolled := time.Date(2026, 12, 3, 10, 20, 35, 0, time.UTC)
	a := &api.FleetAgent{ID: "kiosk-1", Site: "shanghai-01", Channel: "kiosk", Status: api.AgentAlive, ConfigIndex: 22, AppliedIndex: 21,
		Lag: 1, OutboxBacklog: 3, Version: "v1", Session: "n2", GossipAddr: "127.0.0.1:7946", CertSerial: "15237", Enrolled: enrolled}
	var b bytes.Buffer
	if err := (&env{stdout: &b, lang: "en"}).fleetDetail(a); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SESSION         n2\n", "APPLIED INDEX   21\n", "GOSSIP ADDRESS  127.0.0.1:7946\n",
		"CERTIFICATE     15237\n", "ENROLLED        2026-12-03T10:20:35Z\n", "REVOKED         no\n", "LAST SEEN       -\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
	a.Session, a.Revoked = "", true
	b.Reset()
	if err := (&env{stdout: &b, lang: "en"}).fleetDetail(a); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "SESSION         (none: no node holds its session)\n") || !strings.Contains(b.String(), "REVOKED         yes\n") {
		t.Errorf("revoked agent without a session:\n%s", b.String())
	}
}

// An agent that is not connected has no current backlog: fleet show marks
// the figure as its last report (it may have grown since), and a revoked
// agent's row says when it was revoked.
func TestFleetDetail_BacklogOfAnAgentNotConnectedIsMarkedStale(t *testing.T) {
	at := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	a := &api.FleetAgent{ID: "kiosk-1", Status: api.AgentDead, OutboxBacklog: 5, ConfigIndex: 40, AppliedIndex: 40, Lag: 2,
		LastSeen: at.Add(-time.Hour), Revoked: true, RevokedAt: at}
	var b bytes.Buffer
	if err := (&env{stdout: &b, lang: "en"}).fleetDetail(a); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"OUTBOX          5 (last reported; not connected, unknown now)\n", "REVOKED         yes, at 2026-12-04T08:00:00Z\n", "LAG             2\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
	// Never seen since the node started: nothing is known, and the
	// zeros are not shown as figures.
	never := &api.FleetAgent{ID: "kiosk-2", Status: api.AgentDead}
	b.Reset()
	if err := (&env{stdout: &b, lang: "en"}).fleetDetail(never); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CONFIG INDEX    -\n", "APPLIED INDEX   -\n", "LAG             -\n", "OUTBOX          -\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := (&env{stdout: &b, lang: "en"}).fleetTable([]api.FleetAgent{*never, *a}); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(b.String(), "\n"); len(lines) < 3 || strings.Join(strings.Fields(lines[1]), " ") != "kiosk-2 dead - - - - -" ||
		!strings.Contains(strings.Join(strings.Fields(lines[2]), " "), "dead (revoked) 40 2 5 -") {
		t.Errorf("fleet ls:\n%s", b.String())
	}
}
