package fleet

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"log"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func fast(id string, keys ...[]byte) Config {
	meta, _ := protocol.GossipMeta{Role: protocol.GossipRoleServer, ID: id,
		QUICAddr: "127.0.0.1:7000", HTTPAddr: "127.0.0.1:8000"}.Encode()
	return Config{NodeID: id, BindAddr: "127.0.0.1:0", Keys: keys, Meta: func() []byte { return meta },
		ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 50 * time.Millisecond,
		GossipInterval: 50 * time.Millisecond, SuspicionMult: 2}
}

func start(t *testing.T, cfg Config) *Fleet {
	t.Helper()
	f, err := New(cfg)
	if err != nil {
		t.Fatalf("new %s: %v", cfg.NodeID, err)
	}
	t.Cleanup(func() { _ = f.Shutdown() })
	return f
}

// waitFor polls cond with a generous deadline: it asserts that a state is
// reached, not how fast.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func agentIs(f *Fleet, id, status string) func() bool {
	return func() bool { a, ok := f.Agents()[id]; return ok && a.Status == status }
}

// testAgent is an agent-role member on raw memberlist, as agent/gossip runs
// it (controlplane may not import agent): it gossips protocol.GossipMeta and
// leaves by gossiping empty metadata first.
type testAgent struct {
	t    *testing.T
	name string
	ml   *memberlist.Memberlist
	kr   *memberlist.Keyring
	mu   sync.Mutex
	meta []byte
}

func (a *testAgent) NodeMeta(int) []byte             { a.mu.Lock(); defer a.mu.Unlock(); return a.meta }
func (a *testAgent) NotifyMsg([]byte)                {}
func (a *testAgent) GetBroadcasts(int, int) [][]byte { return nil }
func (a *testAgent) LocalState(bool) []byte          { return nil }
func (a *testAgent) MergeRemoteState([]byte, bool)   {}

// startAgent runs member name on port (0: any) with the given keys.
func startAgent(t *testing.T, name string, port int, keys ...[]byte) *testAgent {
	t.Helper()
	kr, err := memberlist.NewKeyring(keys[1:], keys[0])
	if err != nil {
		t.Fatal(err)
	}
	_, id, _ := strings.Cut(name, "/")
	a := &testAgent{t: t, name: name, kr: kr}
	a.meta, _ = protocol.GossipMeta{Role: protocol.GossipRoleAgent, ID: id, Site: "store-1", Channel: "kiosk"}.Encode()
	conf := memberlist.DefaultLANConfig()
	conf.Name, conf.BindAddr, conf.BindPort = name, "127.0.0.1", port
	conf.Keyring, conf.Delegate = kr, a
	conf.Logger = log.New(io.Discard, "", 0)
	conf.ProbeInterval, conf.ProbeTimeout = 100*time.Millisecond, 50*time.Millisecond
	conf.GossipInterval, conf.SuspicionMult = 50*time.Millisecond, 2
	if a.ml, err = memberlist.Create(conf); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.ml.Shutdown() })
	return a
}

func (a *testAgent) addr() string {
	n := a.ml.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

func (a *testAgent) join(f *Fleet) {
	a.t.Helper()
	if _, err := a.ml.Join([]string{f.Addr()}); err != nil {
		a.t.Fatalf("%s join: %v", a.name, err)
	}
}

func (a *testAgent) setMeta(m protocol.GossipMeta) {
	b, err := m.Encode()
	if err != nil {
		a.t.Fatal(err)
	}
	a.mu.Lock()
	a.meta = b
	a.mu.Unlock()
	_ = a.ml.UpdateNode(time.Second)
}

func (a *testAgent) leave() {
	a.mu.Lock()
	a.meta = nil
	a.mu.Unlock()
	_ = a.ml.UpdateNode(time.Second)
	if err := a.ml.Leave(time.Second); err != nil {
		a.t.Fatal(err)
	}
	_ = a.ml.Shutdown()
}

func TestNew_RefusesBadConfig(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no bind address", func(c *Config) { c.BindAddr = "" }, "bind address"},
		{"no port", func(c *Config) { c.BindAddr = "127.0.0.1" }, "bind address"},
		{"no keys", func(c *Config) { c.Keys = nil }, "at least one key"},
		{"bad key", func(c *Config) { c.Keys = [][]byte{make([]byte, 20)} }, "key 0"},
		{"bad node id", func(c *Config) { c.NodeID = "a/b" }, "node id"},
		{"no meta", func(c *Config) { c.Meta = nil }, "Meta func"},
		{"empty meta", func(c *Config) { c.Meta = func() []byte { return []byte{} } }, "empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fast("n1", key(1))
			tc.edit(&cfg)
			f, err := New(cfg)
			if err == nil {
				_ = f.Shutdown()
				t.Fatal("New accepted the config")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestFleet_ServersSeeEachOther(t *testing.T) {
	f1 := start(t, fast("n1", key(1)))
	f2 := start(t, fast("n2", key(1)))
	if _, err := f2.Join([]string{f1.Addr()}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*Fleet{f1, f2} {
		waitFor(t, "both servers in the view", func() bool {
			s := f.Servers()
			return s["n1"].Status == api.AgentAlive && s["n2"].Status == api.AgentAlive
		})
	}
	s := f1.Servers()["n2"]
	if s.Addr != f2.Addr() || s.Meta.QUICAddr != "127.0.0.1:7000" || s.Meta.HTTPAddr != "127.0.0.1:8000" || s.LastSeen.IsZero() {
		t.Fatalf("n1 sees n2 as %+v", s)
	}
	if len(f1.Agents()) != 0 {
		t.Fatalf("agents %v in a fleet of servers", f1.Agents())
	}
}

func TestFleet_KilledAgentBecomesDead(t *testing.T) {
	f := start(t, fast("n1", key(1)))
	a := startAgent(t, "agent/k1", 0, key(1))
	a.join(f)
	waitFor(t, "agent alive", agentIs(f, "k1", api.AgentAlive))
	if got := f.Agents()["k1"]; got.Meta.Site != "store-1" || got.Addr != a.addr() {
		t.Fatalf("agent seen as %+v", got)
	}
	_ = a.ml.Shutdown() // killed: no goodbye
	killed := time.Now()
	waitFor(t, "agent dead", agentIs(f, "k1", api.AgentDead))
	got := f.Agents()["k1"]
	if got.Meta.Site != "store-1" {
		t.Fatalf("metadata not kept after death: %+v", got)
	}
	if got.LastSeen.Before(killed.Add(-time.Second)) || got.LastSeen.After(time.Now()) {
		t.Fatalf("last seen %v; killed at %v", got.LastSeen, killed)
	}
	time.Sleep(3 * pollInterval)
	if again := f.Agents()["k1"]; !again.LastSeen.Equal(got.LastSeen) {
		t.Fatalf("last seen moved from %v to %v after death", got.LastSeen, again.LastSeen)
	}
}

func TestFleet_AgentThatLeavesIsLeft(t *testing.T) {
	f := start(t, fast("n1", key(1)))
	a := startAgent(t, "agent/l1", 0, key(1))
	a.join(f)
	waitFor(t, "agent alive", agentIs(f, "l1", api.AgentAlive))
	a.leave()
	waitFor(t, "agent left", agentIs(f, "l1", api.AgentLeft))
	if got := f.Agents()["l1"]; got.Meta.Channel != "kiosk" {
		t.Fatalf("metadata not kept after leaving: %+v", got)
	}
}

func TestFleet_ServerThatLeavesIsLeft(t *testing.T) {
	f1 := start(t, fast("n1", key(1)))
	f2 := start(t, fast("n2", key(1)))
	if _, err := f2.Join([]string{f1.Addr()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n2 alive", func() bool { return f1.Servers()["n2"].Status == api.AgentAlive })
	if err := f2.Leave(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n2 left", func() bool { return f1.Servers()["n2"].Status == api.AgentLeft })
	if err := f2.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := f2.Leave(time.Second); err == nil {
		t.Fatal("Leave after Shutdown did not fail")
	}
}

func TestFleet_AgentMetaReachesView(t *testing.T) {
	f := start(t, fast("n1", key(1)))
	a := startAgent(t, "agent/m1", 0, key(1))
	a.join(f)
	waitFor(t, "agent alive", agentIs(f, "m1", api.AgentAlive))
	a.setMeta(protocol.GossipMeta{Role: protocol.GossipRoleAgent, ID: "m1", ConfigIndex: 42, OutboxBacklog: 7, OutboxFull: true})
	waitFor(t, "new metadata", func() bool {
		m := f.Agents()["m1"].Meta
		return m.ConfigIndex == 42 && m.OutboxBacklog == 7 && m.OutboxFull
	})
}

func TestFleet_IgnoresMembersOutsideTheNaming(t *testing.T) {
	f := start(t, fast("n1", key(1)))
	a := startAgent(t, "printer-7", 0, key(1))
	a.join(f)
	b := startAgent(t, "agent/ok", 0, key(1))
	b.join(f)
	waitFor(t, "the agent", agentIs(f, "ok", api.AgentAlive))
	if len(f.Agents()) != 1 || len(f.Servers()) != 1 {
		t.Fatalf("agents %v servers %v", f.Agents(), f.Servers())
	}
}

func TestFleet_RejoinBringsBackRestartedAgent(t *testing.T) {
	f := start(t, fast("n1", key(1)))
	a := startAgent(t, "agent/r1", 0, key(1))
	a.join(f)
	waitFor(t, "agent alive", agentIs(f, "r1", api.AgentAlive))
	addr := a.addr()
	if n, err := f.Rejoin([]string{addr, f.Addr()}); n != 0 || err != nil {
		t.Fatalf("rejoin of live members: %d, %v; want nothing to do", n, err)
	}

	_ = a.ml.Shutdown()
	waitFor(t, "agent dead", agentIs(f, "r1", api.AgentDead))
	// memberlist keeps gossiping pending broadcasts to the dead for a while
	// (GossipToTheDeadTime), which can reach a restarted member and let it
	// refute; let those drain so that only Rejoin can bring it back.
	time.Sleep(time.Second)
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	a = startAgent(t, "agent/r1", port, key(1)) // same address, joins nobody
	a.setMeta(protocol.GossipMeta{Role: protocol.GossipRoleAgent, ID: "r1", ConfigIndex: 9})
	time.Sleep(time.Second)
	if agentIs(f, "r1", api.AgentAlive)() {
		t.Fatal("the restarted agent came back without a rejoin; the test shows nothing")
	}
	n, err := f.Rejoin([]string{addr, f.Addr()})
	if n != 1 || err != nil {
		t.Fatalf("rejoin: %d, %v", n, err)
	}
	waitFor(t, "agent alive again", agentIs(f, "r1", api.AgentAlive))
	waitFor(t, "its new metadata", func() bool { return f.Agents()["r1"].Meta.ConfigIndex == 9 })
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

func TestFleet_RejoinBacksOffFailedAddresses(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	cfg := fast("n1", key(1))
	cfg.Now = clk.now
	f := start(t, cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close() // nobody listens there now

	steps := []struct {
		advance time.Duration
		tried   bool
	}{
		{0, true},
		{time.Second, false},       // within 15 s of the failure
		{15 * time.Second, true},   // second failure: wait 30 s
		{20 * time.Second, false},  //
		{11 * time.Second, true},   // third: 60 s
		{50 * time.Second, false},  //
		{time.Hour, true},          // fourth: 2 min
		{119 * time.Second, false}, //
		{2 * time.Second, true},    // fifth: 4 min
		{241 * time.Second, true},  // sixth: 8 min, capped at 5
		{299 * time.Second, false}, //
		{2 * time.Second, true},    //
	}
	for i, s := range steps {
		clk.advance(s.advance)
		n, err := f.Rejoin([]string{down})
		if n != 0 || (err != nil) != s.tried {
			t.Fatalf("step %d: joined %d, err %v; tried want %v", i, n, err, s.tried)
		}
	}
}

func TestFleet_ForgetsGoneMembersAfterDeadRetain(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	cfg := fast("n1", key(1))
	cfg.Now, cfg.DeadRetain = clk.now, time.Hour
	f := start(t, cfg)
	a := startAgent(t, "agent/g1", 0, key(1))
	a.join(f)
	waitFor(t, "agent alive", agentIs(f, "g1", api.AgentAlive))
	_ = a.ml.Shutdown()
	waitFor(t, "agent dead", agentIs(f, "g1", api.AgentDead))
	clk.advance(59 * time.Minute)
	time.Sleep(3 * pollInterval)
	if _, ok := f.Agents()["g1"]; !ok {
		t.Fatal("forgotten before DeadRetain")
	}
	clk.advance(2 * time.Minute)
	waitFor(t, "agent forgotten", func() bool { _, ok := f.Agents()["g1"]; return !ok })
	if _, ok := f.Servers()["n1"]; !ok {
		t.Fatal("the live node was forgotten too")
	}
}

func TestFleet_KeyRotationKeepsGossip(t *testing.T) {
	k1 := key(1)
	f := start(t, fast("n1", k1))
	a := startAgent(t, "agent/x1", 0, k1)
	a.join(f)
	waitFor(t, "agent alive", agentIs(f, "x1", api.AgentAlive))

	keys, err := RotateKeys([][]byte{k1}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k2 := keys[0]
	if err := f.SetKeys(keys); err != nil {
		t.Fatal(err)
	}
	if err := a.kr.AddKey(k2); err != nil {
		t.Fatal(err)
	}
	if err := a.kr.UseKey(k2); err != nil {
		t.Fatal(err)
	}
	a.setMeta(protocol.GossipMeta{Role: protocol.GossipRoleAgent, ID: "x1", ConfigIndex: 2})
	waitFor(t, "metadata under the new key", func() bool { return f.Agents()["x1"].Meta.ConfigIndex == 2 })

	if err := f.SetKeys([][]byte{k2}); err != nil {
		t.Fatal(err)
	}
	if err := a.kr.RemoveKey(k1); err != nil {
		t.Fatal(err)
	}
	if got := f.keyring.GetKeys(); len(got) != 1 || !bytes.Equal(got[0], k2) {
		t.Fatalf("keyring %x", got)
	}
	old := startAgent(t, "agent/old", 0, k1)
	if _, err := old.ml.Join([]string{f.Addr()}); err == nil {
		t.Fatal("a member holding only the dropped key joined")
	}
	a.setMeta(protocol.GossipMeta{Role: protocol.GossipRoleAgent, ID: "x1", ConfigIndex: 3})
	waitFor(t, "gossip after the drop", func() bool { return f.Agents()["x1"].Meta.ConfigIndex == 3 })
	if _, ok := f.Agents()["old"]; ok {
		t.Fatal("the shut-out member is in the view")
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestRotateKeys(t *testing.T) {
	fresh := key(9)
	k1, k2 := key(1), key(2)
	cases := []struct {
		name    string
		current [][]byte
		rand    io.Reader
		want    [][]byte
		wantErr string
	}{
		{"first keyring", nil, bytes.NewReader(fresh), [][]byte{fresh}, ""},
		{"one key", [][]byte{k1}, bytes.NewReader(fresh), [][]byte{fresh, k1}, ""},
		{"older keys dropped", [][]byte{k1, k2}, bytes.NewReader(fresh), [][]byte{fresh, k1}, ""},
		{"short random", [][]byte{k1}, bytes.NewReader(fresh[:10]), nil, "new gossip key"},
		{"failing random", [][]byte{k1}, failingReader{}, nil, "no entropy"},
		{"repeated key", [][]byte{k1, fresh}, bytes.NewReader(fresh), nil, "repeated"},
		{"bad primary", [][]byte{[]byte("short")}, bytes.NewReader(fresh), nil, "primary"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RotateKeys(tc.current, tc.rand)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v; want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d keys; want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.want[i]) {
					t.Fatalf("key %d is %x; want %x", i, got[i][:1], tc.want[i][:1])
				}
			}
			if len(tc.current) > 0 {
				tc.current[0][0] ^= 0xff // the result must not alias the input
				if bytes.Equal(got[1], tc.current[0]) {
					t.Fatal("the result shares memory with current")
				}
			}
		})
	}
	a, _ := RotateKeys(nil, rand.Reader)
	b, _ := RotateKeys(nil, rand.Reader)
	if len(a[0]) != 32 || bytes.Equal(a[0], b[0]) {
		t.Fatal("crypto/rand keys are not 32 fresh bytes")
	}
}

func TestFleet_AgentUnheardForABeatIsSuspectThenDead(t *testing.T) {
	cfg := fast("n1", key(1))
	cfg.SuspectAfter = 400 * time.Millisecond
	f := start(t, cfg)
	a := startAgent(t, "agent/k1", 0, key(1))
	a.join(f)
	beat := func(n uint64) {
		a.setMeta(protocol.GossipMeta{Role: protocol.GossipRoleAgent, ID: "k1", Site: "store-1", Channel: "kiosk", Beat: n})
	}
	beat(1)
	waitFor(t, "agent alive", agentIs(f, "k1", api.AgentAlive))
	// It stays a member but stops beating (a hung process): suspect.
	waitFor(t, "agent suspect", agentIs(f, "k1", api.AgentSuspect))
	last := f.Agents()["k1"].LastSeen
	beat(2)
	waitFor(t, "agent alive again", agentIs(f, "k1", api.AgentAlive))
	if !f.Agents()["k1"].LastSeen.After(last) {
		t.Fatal("a heartbeat did not move last seen")
	}
	_ = a.ml.Shutdown()
	waitFor(t, "agent dead", agentIs(f, "k1", api.AgentDead))
}
