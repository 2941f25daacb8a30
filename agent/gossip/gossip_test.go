package gossip

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// metaBox is a member's changeable metadata.
type metaBox struct {
	mu sync.Mutex
	b  []byte
}

func (m *metaBox) get() []byte  { m.mu.Lock(); defer m.mu.Unlock(); return m.b }
func (m *metaBox) set(s string) { m.mu.Lock(); defer m.mu.Unlock(); m.b = []byte(s) }
func newMeta(s string) *metaBox { m := &metaBox{}; m.set(s); return m }
func fast(name string, keys ...[]byte) Config {
	return Config{Name: name, BindAddr: "127.0.0.1:0", Keys: keys, Meta: newMeta(`{"id":"` + name + `"}`).get,
		ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 50 * time.Millisecond,
		GossipInterval: 50 * time.Millisecond, SuspicionMult: 2}
}

func start(t *testing.T, cfg Config) *Gossip {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatalf("new %s: %v", cfg.Name, err)
	}
	t.Cleanup(func() { _ = g.Shutdown() })
	return g
}

func join(t *testing.T, g *Gossip, to ...*Gossip) {
	t.Helper()
	var addrs []string
	for _, o := range to {
		addrs = append(addrs, o.Addr())
	}
	if _, err := g.Join(addrs); err != nil {
		t.Fatalf("join: %v", err)
	}
}

func member(g *Gossip, name string) (Member, bool) {
	for _, m := range g.Members() {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
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

func sees(g *Gossip, name string, state State) func() bool {
	return func() bool { m, ok := member(g, name); return ok && m.State == state }
}

func TestNew_RefusesBadConfig(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no bind address", func(c *Config) { c.BindAddr = "" }, "bind address"},
		{"no port", func(c *Config) { c.BindAddr = "127.0.0.1" }, "bind address"},
		{"no host", func(c *Config) { c.BindAddr = ":0" }, "give a host"},
		{"bad port", func(c *Config) { c.BindAddr = "127.0.0.1:70000" }, "bad port"},
		{"no keys", func(c *Config) { c.Keys = nil }, "at least one key"},
		{"short key", func(c *Config) { c.Keys = [][]byte{[]byte("short")} }, "key 0"},
		{"no name", func(c *Config) { c.Name = "" }, "name"},
		{"no meta", func(c *Config) { c.Meta = nil }, "Meta func"},
		{"empty meta", func(c *Config) { c.Meta = func() []byte { return nil } }, "empty"},
		{"meta too big", func(c *Config) { c.Meta = func() []byte { return make([]byte, 513) } }, "512"},
		{"unspecified advertise", func(c *Config) { c.AdvertiseAddr = "0.0.0.0:1" }, "advertise"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fast("agent/a", key(1))
			tc.edit(&cfg)
			g, err := New(cfg)
			if err == nil {
				_ = g.Shutdown()
				t.Fatal("New accepted the config")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestNew_BindsExactlyTheGivenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	cfg := fast("agent/a", key(1))
	cfg.BindAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if g, err := New(cfg); err == nil {
		_ = g.Shutdown()
		t.Fatalf("bound %s while it was taken (fell back to %s?)", cfg.BindAddr, g.Addr())
	}
	ln.Close()

	g := start(t, cfg)
	if g.Addr() != cfg.BindAddr {
		t.Fatalf("Addr %s, bound %s", g.Addr(), cfg.BindAddr)
	}
	auto := start(t, fast("agent/b", key(1)))
	if _, p, _ := net.SplitHostPort(auto.Addr()); p == "0" || p == "7946" {
		t.Fatalf("port 0 reported as %s", auto.Addr())
	}
	adv := fast("agent/c", key(1))
	adv.AdvertiseAddr = "127.0.0.2"
	if g := start(t, adv); !strings.HasPrefix(g.Addr(), "127.0.0.2:") || strings.HasSuffix(g.Addr(), ":0") {
		t.Fatalf("advertised %s; want 127.0.0.2 with the bound port", g.Addr())
	}
}

func TestGossip_SameKeySeeEachOther(t *testing.T) {
	a := start(t, fast("agent/a", key(1)))
	b := start(t, fast("agent/b", key(1)))
	join(t, b, a)
	waitFor(t, "a to see b", sees(a, "agent/b", StateAlive))
	waitFor(t, "b to see a", sees(b, "agent/a", StateAlive))
	if m, _ := member(a, "agent/b"); m.Addr != b.Addr() || string(m.Meta) != `{"id":"agent/b"}` {
		t.Fatalf("a sees b as %+v", m)
	}
}

func TestGossip_DifferentKeysStayApart(t *testing.T) {
	a := start(t, fast("agent/a", key(1)))
	b := start(t, fast("agent/b", key(2)))
	if _, err := b.Join([]string{a.Addr()}); err == nil {
		t.Fatal("joined a member holding another key")
	}
	for _, g := range []*Gossip{a, b} {
		if ms := g.Members(); len(ms) != 1 {
			t.Fatalf("members %+v; want only itself", ms)
		}
	}
}

func TestGossip_MetaUpdatesPropagate(t *testing.T) {
	meta := newMeta(`{"configIndex":1}`)
	cfg := fast("agent/a", key(1))
	cfg.Meta = meta.get
	a := start(t, cfg)
	b := start(t, fast("agent/b", key(1)))
	join(t, b, a)
	waitFor(t, "b to see a", sees(b, "agent/a", StateAlive))
	meta.set(`{"configIndex":2}`)
	if err := a.UpdateMeta(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new metadata at b", func() bool {
		m, _ := member(b, "agent/a")
		return string(m.Meta) == `{"configIndex":2}`
	})

	meta.set(strings.Repeat("x", 513))
	if err := a.UpdateMeta(); err == nil {
		t.Fatal("UpdateMeta accepted 513 bytes")
	}
	if m, _ := member(a, "agent/a"); string(m.Meta) != `{"configIndex":2}` {
		t.Fatalf("own metadata %q after a refused update", m.Meta)
	}
}

func TestGossip_KeyRotation(t *testing.T) {
	k1, k2 := key(1), key(2)
	meta := newMeta(`{"v":1}`)
	cfgA := fast("agent/a", k1)
	cfgA.Meta = meta.get
	a := start(t, cfgA)
	b := start(t, fast("agent/b", k1))
	join(t, b, a)
	waitFor(t, "b to see a", sees(b, "agent/a", StateAlive))

	// Rotate: the new key first, the old one kept.
	for _, g := range []*Gossip{a, b} {
		if err := g.SetKeys([][]byte{k2, k1}); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.keyring.GetKeys(); len(got) != 2 || !bytes.Equal(got[0], k2) || !bytes.Equal(got[1], k1) {
		t.Fatalf("keyring after rotation %x", got)
	}
	meta.set(`{"v":2}`)
	if err := a.UpdateMeta(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "metadata gossiped under the new key", func() bool {
		m, _ := member(b, "agent/a")
		return string(m.Meta) == `{"v":2}`
	})
	// a seals with the new key: a member holding only k2 can sync with it.
	c := start(t, fast("agent/c", k2))
	join(t, c, a)

	// Drop the old key: a member holding only it is shut out.
	for _, g := range []*Gossip{a, b, c} {
		if err := g.SetKeys([][]byte{k2}); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.keyring.GetKeys(); len(got) != 1 || !bytes.Equal(got[0], k2) {
		t.Fatalf("keyring after the drop %x", got)
	}
	old := start(t, fast("agent/old", k1))
	if _, err := old.Join([]string{a.Addr()}); err == nil {
		t.Fatal("a member holding only the dropped key joined")
	}
	meta.set(`{"v":3}`)
	if err := a.UpdateMeta(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "gossip after the drop", func() bool {
		m, _ := member(b, "agent/a")
		return string(m.Meta) == `{"v":3}`
	})
	if _, ok := member(a, "agent/old"); ok {
		t.Fatal("a lists the shut-out member")
	}
}

func TestGossip_LeftVersusDead(t *testing.T) {
	a := start(t, fast("agent/a", key(1)))
	b := start(t, fast("agent/b", key(1)))
	c := start(t, fast("agent/c", key(1)))
	join(t, b, a)
	join(t, c, a)
	waitFor(t, "a to see b", sees(a, "agent/b", StateAlive))
	waitFor(t, "a to see c", sees(a, "agent/c", StateAlive))

	if err := b.Leave(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b left", sees(a, "agent/b", StateLeft))
	if m, _ := member(a, "agent/b"); string(m.Meta) != `{"id":"agent/b"}` {
		t.Fatalf("b's last metadata %q not kept", m.Meta)
	}
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "c dead", sees(a, "agent/c", StateDead))
	if m, _ := member(a, "agent/b"); m.State != StateLeft {
		t.Fatalf("b is %s after c died", m.State)
	}
	if err := b.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := b.Leave(time.Second); err == nil {
		t.Fatal("Leave after Shutdown did not fail")
	}
}

// recorder keeps slog records.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	line := rec.Level.String() + " " + rec.Message
	rec.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	r.msgs = append(r.msgs, line)
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }
func (r *recorder) find(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.msgs {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

func TestGossip_MemberlistLogsGoToSlog(t *testing.T) {
	rec := &recorder{}
	cfg := fast("agent/a", key(1))
	cfg.Logger = slog.New(rec)
	a := start(t, cfg)
	b := start(t, fast("agent/b", key(2)))
	_, _ = a.Join([]string{b.Addr()})
	waitFor(t, "memberlist's join log in slog", func() bool {
		return rec.find("DEBUG memberlist detail=Initiating push/pull sync with")
	})
}

func TestKeyPlan_PrimaryFirstAndOnlyTailRemovals(t *testing.T) {
	k1, k2, k3 := key(1), key(2), key(3)
	cases := []struct {
		name       string
		ring, want [][]byte
		clean      bool // no wanted key is taken off and put back
	}{
		{"rotate", [][]byte{k1}, [][]byte{k2, k1}, true},
		{"drop old", [][]byte{k2, k1}, [][]byte{k2}, true},
		{"rotate again", [][]byte{k2, k1}, [][]byte{k3, k2}, true},
		{"same", [][]byte{k1, k2}, [][]byte{k1, k2}, true},
		{"swap primary", [][]byte{k1, k2}, [][]byte{k2, k1}, true},
		{"drop the middle", [][]byte{k1, k2, k3}, [][]byte{k1, k3}, false},
		{"replace all", [][]byte{k1, k2}, [][]byte{k3}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kr, err := memberlist.NewKeyring(tc.ring[1:], tc.ring[0])
			if err != nil {
				t.Fatal(err)
			}
			used, putBack := false, false
			for _, op := range keyPlan(kr.GetKeys(), tc.want) {
				ring := kr.GetKeys()
				switch op.op {
				case opAdd:
					putBack = putBack || used && containsKey(tc.ring, op.key)
					err = kr.AddKey(op.key)
				case opUse:
					used = true
					err = kr.UseKey(op.key)
				case opRemove:
					if !used {
						t.Fatal("removal before the primary is in use")
					}
					if !bytes.Equal(op.key, ring[len(ring)-1]) || bytes.Equal(op.key, ring[0]) {
						t.Fatalf("removes %x from %x: not the last key, or the primary", op.key[:1], ring)
					}
					err = kr.RemoveKey(op.key)
				}
				if err != nil {
					t.Fatal(err)
				}
				if used && !bytes.Equal(kr.GetPrimaryKey(), tc.want[0]) {
					t.Fatalf("primary %x after %v; want %x", kr.GetPrimaryKey()[:1], op.op, tc.want[0][:1])
				}
			}
			got := kr.GetKeys()
			if len(got) != len(tc.want) || !bytes.Equal(got[0], tc.want[0]) {
				t.Fatalf("ring %x; want %x", got, tc.want)
			}
			for _, k := range tc.want {
				if !containsKey(got, k) {
					t.Fatalf("ring %x lacks %x", got, k[:1])
				}
			}
			if tc.clean && putBack {
				t.Fatal("a wanted key was taken off and put back")
			}
		})
	}
}
