package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/agent"
	"touchpoint.dev/touchpoint/agent/link"
	"touchpoint.dev/touchpoint/controlplane"
	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol/api"
)

// End-to-end tests: real agents (in process) against a real three-node
// control plane (in process), over QUIC and gossip on loopback.

type testAgent struct {
	t      *testing.T
	cfg    agent.Config
	a      *agent.Agent
	cancel context.CancelFunc
	done   chan error
}

func quicAddrs(c *cptest.Cluster) []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.QUICAddr())
	}
	return out
}

// fastAgentTiming: a cut link is noticed within a couple of seconds.
var fastLink = link.Timing{KeepAlivePeriod: 300 * time.Millisecond, MaxIdleTimeout: 2 * time.Second, DialTimeout: 2 * time.Second,
	BackoffMin: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond, RefusedBackoff: time.Second,
	StatusEvery: 200 * time.Millisecond, EventsPoll: 200 * time.Millisecond}

var fastAgentGossip = agent.GossipTiming{MetaEvery: 200 * time.Millisecond, RejoinEvery: time.Second,
	ProbeInterval: 200 * time.Millisecond, ProbeTimeout: 100 * time.Millisecond, GossipInterval: 50 * time.Millisecond, SuspicionMult: 6}

func newAgentConfig(t *testing.T, c *cptest.Cluster, id, channel, token string) agent.Config {
	return agent.Config{ID: id, DataDir: filepath.Join(t.TempDir(), id), Site: "sh-01", Channel: channel,
		HTTPAddr: "127.0.0.1:0", GossipAddr: "127.0.0.1:0", ControlPlane: quicAddrs(c), JoinToken: token,
		Version: "test", Logger: cptest.Logger(t), LinkTiming: fastLink, GossipTiming: fastAgentGossip}
}

func startTestAgent(t *testing.T, cfg agent.Config) *testAgent {
	t.Helper()
	ta := &testAgent{t: t, cfg: cfg}
	ta.run()
	t.Cleanup(ta.stop)
	return ta
}

func (ta *testAgent) run() {
	ta.t.Helper()
	a, err := agent.New(ta.cfg)
	if err != nil {
		ta.t.Fatalf("agent %s: %v", ta.cfg.ID, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ta.a, ta.cancel, ta.done = a, cancel, make(chan error, 1)
	go func() { ta.done <- a.Run(ctx) }()
}

func (ta *testAgent) stop() {
	if ta.cancel == nil {
		return
	}
	ta.cancel()
	<-ta.done
	ta.cancel = nil
}

func (ta *testAgent) kill() {
	ta.a.Kill()
	ta.stop()
}

func (ta *testAgent) restart() {
	ta.t.Helper()
	ta.stop()
	ta.cfg.HTTPAddr = ta.a.Addr()
	ta.run()
}

func (ta *testAgent) url() string { return ta.a.URL() }

// waitFor polls cond with a generous deadline: it asserts that a state is
// reached, not how fast.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (ta *testAgent) has(kind, id string) bool {
	resp, err := http.Get(ta.url() + "/v1/catalog/" + kind + "/" + id)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (ta *testAgent) status() agent.Status {
	return ta.a.Status()
}

// contact records a contact and returns the HTTP status and the sequence.
func (ta *testAgent) contact(customer, outcome string) (int, uint64) {
	body, _ := json.Marshal(map[string]string{"customerId": customer, "type": "offer", "outcome": outcome, "offerId": "retain-10"})
	resp, err := http.Post(ta.url()+"/v1/contacts", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	var acc agent.ContactAccepted
	_ = json.NewDecoder(resp.Body).Decode(&acc)
	return resp.StatusCode, acc.Seq
}

func mintJoinToken(t *testing.T, cl *api.Client, uses int) string {
	t.Helper()
	res, err := cl.JoinToken(context.Background(), api.JoinTokenRequest{TTL: "1h", Uses: uses})
	if err != nil {
		t.Fatal(err)
	}
	return res.Token
}

func applyYAML(t *testing.T, cl *api.Client, doc string) uint64 {
	t.Helper()
	res, err := cl.Apply(context.Background(), []byte(doc), "application/yaml")
	if err != nil {
		t.Fatal(err)
	}
	return res.Index
}

const campaignDoc = "kind: Campaign\nid: %s\nname: test\noffers: [retain-10]\nchannels: [kiosk, ivr]\ncontrolGroupPercent: 0\n"

func TestAgents_FollowConfigurationCatchUpAndResyncBySnapshot(t *testing.T) {
	c := cptest.New(t, 3, func(cfg *controlplane.Config) { cfg.Raft.FSM.ChangeRetention = 20 })
	cl := c.Client(0)
	applyYAML(t, cl, readmeOffer)
	tok := mintJoinToken(t, cl, 2)
	kiosk := startTestAgent(t, newAgentConfig(t, c, "kiosk-1", "kiosk", tok))
	ivr := startTestAgent(t, newAgentConfig(t, c, "ivr-1", "ivr", tok))
	for _, a := range []*testAgent{kiosk, ivr} {
		waitFor(t, a.cfg.ID+" holds the catalogue", 20*time.Second, func() bool { return a.has("offers", "retain-10") })
	}
	// Apply a campaign: every connected agent holds it.
	applyYAML(t, cl, fmt.Sprintf(campaignDoc, "winback-q4"))
	for _, a := range []*testAgent{kiosk, ivr} {
		waitFor(t, a.cfg.ID+" holds the campaign", 10*time.Second, func() bool { return a.has("campaigns", "winback-q4") })
	}
	// The IVR agent is offline while three changes land; back, it gets them.
	ivr.stop()
	var last uint64
	for i := 1; i <= 3; i++ {
		last = applyYAML(t, cl, fmt.Sprintf(campaignDoc, fmt.Sprintf("while-away-%d", i)))
	}
	ivr.restart()
	waitFor(t, "ivr catches up", 20*time.Second, func() bool { return ivr.status().Config.Index >= last })
	for i := 1; i <= 3; i++ {
		if !ivr.has("campaigns", fmt.Sprintf("while-away-%d", i)) {
			t.Fatalf("ivr misses while-away-%d after catching up", i)
		}
	}
	// Far behind (the feed keeps 20 indexes): a snapshot, which also
	// drops what was deleted meanwhile.
	ivr.stop()
	if _, err := cl.Delete(context.Background(), "campaigns", "while-away-1"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1100; i++ { // past a prune boundary (every 1,024 indexes)
		_, _ = cl.RevokeAgent(context.Background(), api.RevokeRequest{ID: "nobody", Force: true}) // not_found: still an entry
		if i%100 == 0 {
			last = applyYAML(t, cl, fmt.Sprintf(campaignDoc, fmt.Sprintf("later-%d", i)))
		}
	}
	last = applyYAML(t, cl, fmt.Sprintf(campaignDoc, "newest"))
	ivr.restart()
	waitFor(t, "ivr resynchronised", 30*time.Second, func() bool { return ivr.status().Config.Index >= last && ivr.has("campaigns", "newest") })
	if ivr.has("campaigns", "while-away-1") {
		t.Fatal("a campaign deleted while the agent was far behind is still in its cache")
	}
	// fleet ls shows both agents alive and up to date.
	waitFor(t, "fleet ls shows both up to date", 20*time.Second, func() bool {
		as, err := cl.FleetAgents(context.Background())
		if err != nil || len(as) != 2 {
			return false
		}
		for _, a := range as {
			if a.Status != api.AgentAlive || a.Lag != 0 || a.Version != "test" {
				return false
			}
		}
		return true
	})
}

func TestAgents_OfflineKeepServingAndAcceptingUpToTheBoundThenDrain(t *testing.T) {
	c := cptest.New(t, 3)
	cl := c.Client(0)
	applyYAML(t, cl, readmeOffer)
	cfg := newAgentConfig(t, c, "kiosk-1", "kiosk", mintJoinToken(t, cl, 1))
	cfg.OutboxMaxBytes = 64 << 10
	a := startTestAgent(t, cfg)
	waitFor(t, "agent holds the catalogue", 20*time.Second, func() bool { return a.has("offers", "retain-10") })
	for _, n := range c.Nodes {
		n.Kill()
	}
	// Cut off: it keeps serving its cache and taking contacts until the
	// outbox bound, then refuses with outbox_full rather than drop any.
	accepted := 0
	for i := 0; ; i++ {
		code, _ := a.contact(fmt.Sprintf("C%d", i%50), "presented")
		if code == http.StatusServiceUnavailable {
			break
		}
		if code != http.StatusAccepted {
			t.Fatalf("contact %d while offline: HTTP %d", i, code)
		}
		accepted++
		if i > 100000 {
			t.Fatal("the outbox bound never refused")
		}
	}
	if accepted < 50 || !a.status().Outbox.Full {
		t.Fatalf("%d accepted before the bound; status %+v", accepted, a.status().Outbox)
	}
	if !a.has("offers", "retain-10") {
		t.Fatal("the cache stopped serving while offline")
	}
	resp, err := http.Get(a.url() + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz offline with a cached configuration: %v %v", resp, err)
	}
	resp.Body.Close()
	// Back online: the backlog drains and the outbox takes contacts again.
	for _, n := range c.Nodes {
		c.Restart(n)
	}
	waitFor(t, "backlog drained", 60*time.Second, func() bool { return a.status().Outbox.Backlog == 0 })
	if code, _ := a.contact("C1", "accepted"); code != http.StatusAccepted {
		t.Fatalf("after draining: HTTP %d", code)
	}
	waitFor(t, "ledger complete", 30*time.Second, func() bool {
		st, err := c.Client(c.Leader()).ContactStats(context.Background())
		return err == nil && st.Total == uint64(accepted+1)
	})
}

func TestAgents_KilledAgentIsSuspectThenDeadInFleetLs(t *testing.T) {
	c := cptest.New(t, 3)
	cl := c.Client(0)
	a := startTestAgent(t, newAgentConfig(t, c, "ivr-1", "ivr", mintJoinToken(t, cl, 1)))
	status := func() string {
		ag, err := c.Client(c.Leader()).FleetAgent(context.Background(), "ivr-1")
		if err != nil {
			return ""
		}
		return ag.Status
	}
	waitFor(t, "agent alive in gossip", 30*time.Second, func() bool { return status() == api.AgentAlive })
	a.kill()
	var seen []string
	waitFor(t, "agent dead", 60*time.Second, func() bool {
		s := status()
		if len(seen) == 0 || seen[len(seen)-1] != s {
			seen = append(seen, s)
		}
		return s == api.AgentDead
	})
	// alive → suspect → dead, with nothing else in between.
	want := []string{api.AgentAlive, api.AgentSuspect, api.AgentDead}
	if fmt.Sprint(seen) != fmt.Sprint(want) && fmt.Sprint(seen) != fmt.Sprint(want[1:]) {
		t.Fatalf("fleet ls showed %v, want %v", seen, want)
	}
}

// A gossip key rotation reaches the agent over its session; after two
// rotations (the original key dropped) the agent still gossips with the
// nodes.
func TestAgents_GossipKeyRotationReachesAgents(t *testing.T) {
	c := cptest.New(t, 3)
	cl := c.Client(0)
	ag := startTestAgent(t, newAgentConfig(t, c, "kiosk-1", "kiosk", mintJoinToken(t, cl, 1)))
	// The agent picked its gossip port itself; the leader records the
	// address the pool reports in the registry, for rejoins from Raft.
	waitFor(t, "agent gossip address in the registry", 30*time.Second, func() bool {
		reg, ok, _ := c.Store(c.Leader()).FSM().Agent("kiosk-1")
		return ok && reg.GossipAddr != "" && reg.GossipAddr == ag.a.GossipAddr()
	})
	heard := func() time.Time {
		return c.Nodes[c.Leader()].Server.GossipAgents()["kiosk-1"].LastSeen
	}
	waitFor(t, "agent in gossip", 30*time.Second, func() bool {
		return c.Nodes[c.Leader()].Server.GossipAgents()["kiosk-1"].Status == api.AgentAlive
	})
	for i := 0; i < 2; i++ {
		if _, err := cl.RotateGossipKey(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	rotated := time.Now()
	waitFor(t, "agent heard in gossip after the rotations", 30*time.Second, func() bool {
		st := c.Nodes[c.Leader()].Server.GossipAgents()["kiosk-1"]
		return st.Status == api.AgentAlive && heard().After(rotated.Add(2*time.Second))
	})
}
