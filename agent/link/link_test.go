package link_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/agent/agenttest"
	"touchpoint.dev/touchpoint/agent/cache"
	"touchpoint.dev/touchpoint/agent/link"
	"touchpoint.dev/touchpoint/agent/outbox"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/wire"
)

const agentID = "kiosk-1"

// fast timing keeps reconnects and status reports in milliseconds.
var fast = link.Timing{
	KeepAlivePeriod: 200 * time.Millisecond,
	MaxIdleTimeout:  3 * time.Second,
	DialTimeout:     2 * time.Second,
	BackoffMin:      5 * time.Millisecond,
	BackoffMax:      50 * time.Millisecond,
	RefusedBackoff:  300 * time.Millisecond,
	StatusEvery:     50 * time.Millisecond,
	EventsPoll:      50 * time.Millisecond,
}

// agent is a link with its stores, as the daemon wires them.
type agent struct {
	t     *testing.T
	dir   string
	cache *cache.Cache
	ob    *outbox.Outbox
	link  *link.Link

	mu       sync.Mutex
	keyrings [][][]byte
	servers  [][]wire.ServerInfo

	cancel context.CancelFunc
	done   chan error
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

func newConfig(t *testing.T, dir string, servers []string, token string) link.Config {
	return link.Config{
		AgentID: agentID, Site: "store-042", Channel: "kiosk", Version: "test",
		Servers: servers, JoinToken: token, Dir: filepath.Join(dir, "identity"),
		Logger: testLogger(t), Timing: fast,
	}
}

// open opens the stores in dir and a link over them (not running).
func open(t *testing.T, dir string, cfg link.Config) (*agent, error) {
	t.Helper()
	a := &agent{t: t, dir: dir}
	var err error
	if a.cache, err = cache.Open(cache.Config{Dir: filepath.Join(dir, "cache")}); err != nil {
		t.Fatal(err)
	}
	if a.ob, err = outbox.Open(outbox.Config{Dir: filepath.Join(dir, "outbox"), AgentID: agentID}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.stop)
	cfg.OnKeyring = func(k [][]byte) {
		a.mu.Lock()
		a.keyrings = append(a.keyrings, k)
		a.mu.Unlock()
	}
	cfg.OnServers = func(s []wire.ServerInfo) {
		a.mu.Lock()
		a.servers = append(a.servers, s)
		a.mu.Unlock()
	}
	a.link, err = link.New(cfg, a.cache, a.ob)
	return a, err
}

func mustOpen(t *testing.T, dir string, cfg link.Config) *agent {
	t.Helper()
	a, err := open(t, dir, cfg)
	if err != nil {
		t.Fatalf("new link: %v", err)
	}
	return a
}

func (a *agent) run() {
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.done = make(chan error, 1)
	go func() { a.done <- a.link.Run(ctx) }()
}

// stop stops the link and closes the stores (idempotent).
func (a *agent) stop() {
	if a.link != nil {
		_ = a.link.Close()
	}
	if a.cancel != nil {
		a.cancel()
		if err := <-a.done; err != nil {
			a.t.Errorf("run: %v", err)
		}
		a.cancel = nil
	}
	if a.ob != nil {
		_ = a.ob.Close()
		a.ob = nil
	}
	if a.cache != nil {
		_ = a.cache.Close()
		a.cache = nil
	}
}

func (a *agent) waitConnected() {
	a.t.Helper()
	agenttest.WaitFor(a.t, 10*time.Second, "a session", func() bool { return a.link.Status().Connected })
}

func (a *agent) lastKeyring() [][]byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.keyrings) == 0 {
		return nil
	}
	return a.keyrings[len(a.keyrings)-1]
}

func (a *agent) appendEvents(n int) {
	a.t.Helper()
	for i := 0; i < n; i++ {
		if _, err := a.ob.Append(context.Background(), protocol.ContactEvent{
			CustomerID: fmt.Sprintf("c%d", i), Channel: "kiosk", Type: protocol.ContactOffer, Outcome: protocol.OutcomePresented,
		}); err != nil {
			a.t.Fatal(err)
		}
	}
}

func TestLink_EnrollsPersistsIdentityAndRestartsWithoutToken(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{GossipAddr: "127.0.0.1:7946"})
	dir := t.TempDir()
	token := fake.JoinToken(time.Hour, 1)
	a := mustOpen(t, dir, newConfig(t, dir, []string{fake.Addr()}, token))
	if a.link.Enrolled() {
		t.Fatal("enrolled before Run")
	}
	a.run()
	a.waitConnected()
	if n := len(fake.Enrollments()); n != 1 {
		t.Fatalf("%d enrollments", n)
	}
	e := fake.Enrollments()[0]
	if e.AgentID != agentID || e.Site != "store-042" || e.Channel != "kiosk" || e.ProtocolVersion != wire.ProtocolVersion || e.Token != "" {
		t.Fatalf("enroll request: %+v", e)
	}
	if k := a.lastKeyring(); len(k) != 1 || len(k[0]) != 32 {
		t.Fatalf("keyring after enrollment: %v", k)
	}
	idDir := filepath.Join(dir, "identity")
	for name, secret := range map[string]bool{"agent.key": true, "agent.crt": false, "ca.crt": false, "gossip.keys": true, "servers.json": false, "quic.reset.key": true, "role.json": false} {
		fi, err := os.Stat(filepath.Join(idDir, name))
		if err != nil {
			t.Fatalf("identity file: %v", err)
		}
		if secret && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	var servers struct{ Servers []wire.ServerInfo }
	b, _ := os.ReadFile(filepath.Join(idDir, "servers.json"))
	if err := json.Unmarshal(b, &servers); err != nil || len(servers.Servers) != 1 || servers.Servers[0].QUICAddr != fake.Addr() || servers.Servers[0].GossipAddr != "127.0.0.1:7946" {
		t.Fatalf("servers.json: %s (%v)", b, err)
	}
	resetKey, _ := os.ReadFile(filepath.Join(idDir, "quic.reset.key"))
	a.stop()

	// The token is spent: a restart with it, with garbage or with none at
	// all still connects, without enrolling again.
	for i, tok := range []string{token, "not-a-token", ""} {
		a := mustOpen(t, dir, newConfig(t, dir, []string{fake.Addr()}, tok))
		if !a.link.Enrolled() {
			t.Fatalf("restart %d: not enrolled", i)
		}
		a.run()
		a.waitConnected()
		if k := a.lastKeyring(); len(k) != 1 {
			t.Fatalf("restart %d: keyring from disk not reported: %v", i, k)
		}
		a.stop()
	}
	if n := len(fake.Enrollments()); n != 1 {
		t.Fatalf("%d enrollments after restarts", n)
	}
	// Another channel or site is refused: the fleet registry would go on
	// naming the enrolled ones while the ledger recorded the new.
	for _, change := range []func(*link.Config){
		func(c *link.Config) { c.Channel = "ivr" },
		func(c *link.Config) { c.Site = "other-site" },
	} {
		cfg := newConfig(t, dir, []string{fake.Addr()}, "")
		change(&cfg)
		if _, err := link.New(cfg, fakeCache{}, fakeOutbox{}); err == nil || !strings.Contains(err.Error(), `enrolled as site "store-042", channel "kiosk"`) ||
			!strings.Contains(err.Error(), "--site store-042 --channel kiosk") {
			t.Fatalf("restart as %s at %s: %v", cfg.Channel, cfg.Site, err)
		}
	}
	if again, _ := os.ReadFile(filepath.Join(idDir, "quic.reset.key")); !bytes.Equal(again, resetKey) || len(resetKey) != 32 {
		t.Fatal("the QUIC reset key changed across restarts")
	}
}

func TestLink_EnrollmentRefusals(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	spent := fake.JoinToken(time.Hour, 1)
	{
		dir := t.TempDir()
		cfg := newConfig(t, dir, []string{fake.Addr()}, spent)
		cfg.AgentID = "other-agent"
		a, err := open(t, dir, cfg)
		if err != nil {
			t.Fatal(err)
		}
		a.run()
		agenttest.WaitFor(t, 10*time.Second, "enrollment", func() bool { return a.link.Enrolled() })
	}
	other := agenttest.Start(t, agenttest.Config{}).JoinToken(time.Hour, 1) // another cluster's token
	tests := []struct {
		name    string
		token   string
		servers []string // default: the fake alone
		want    api.Code
	}{
		{"expired", fake.JoinToken(-time.Minute, 1), nil, agenttest.CodeTokenInvalid},
		{"spent", spent, nil, agenttest.CodeTokenInvalid},
		// Every node given presents another CA than the token pins: the
		// token or the addresses are another cluster's, and asking again
		// cannot help.
		{"another cluster's", other, nil, api.CodeWrongCluster},
		// One of two does: the other may be the token's cluster, once it
		// answers, so the agent keeps trying.
		{"another cluster's, and a node not answering", other, []string{fake.Addr(), "127.0.0.1:1"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			servers := tc.servers
			if servers == nil {
				servers = []string{fake.Addr()}
			}
			a := mustOpen(t, dir, newConfig(t, dir, servers, tc.token))
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			err := a.link.Run(ctx)
			if tc.want == "" {
				// A node that is not the token's cluster is never trusted.
				if err != nil || a.link.Enrolled() {
					t.Fatalf("run: %v, enrolled %v", err, a.link.Enrolled())
				}
				if st := a.link.Status(); !strings.Contains(st.LastError, "another cluster") && !strings.Contains(st.LastError, "127.0.0.1:1") {
					t.Fatalf("last error: %q", st.LastError)
				}
				return
			}
			if api.CodeOf(err) != tc.want {
				t.Fatalf("run: %v (code %s), want %s", err, api.CodeOf(err), tc.want)
			}
			if tc.want == api.CodeWrongCluster && !strings.Contains(err.Error(), "belongs to another cluster than the one the join token is for") {
				t.Fatalf("wrong cluster: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "identity", "agent.crt")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a refused agent holds a certificate: %v", err)
			}
		})
	}
}

func TestLink_NewRefusesWithoutIdentityOrToken(t *testing.T) {
	dir := t.TempDir()
	if _, err := open(t, dir, newConfig(t, dir, []string{"127.0.0.1:1"}, "")); err == nil || !strings.Contains(err.Error(), "not enrolled") {
		t.Fatalf("no identity, no token: %v", err)
	}
	dir = t.TempDir()
	if _, err := open(t, dir, newConfig(t, dir, []string{"127.0.0.1:1"}, "tpj1.garbage")); err == nil || !strings.Contains(err.Error(), "join token") {
		t.Fatalf("malformed token: %v", err)
	}
}

func TestLink_IdentityOfAnotherAgentIsRefused(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	dir := t.TempDir()
	a := mustOpen(t, dir, newConfig(t, dir, []string{fake.Addr()}, fake.JoinToken(time.Hour, 1)))
	a.run()
	a.waitConnected()
	a.stop()
	cfg := newConfig(t, dir, []string{fake.Addr()}, "")
	cfg.AgentID = "kiosk-2"
	_, err := link.New(cfg, fakeCache{}, fakeOutbox{})
	if err == nil || !strings.Contains(err.Error(), `belongs to agent "kiosk-1"`) {
		t.Fatalf("identity of another agent: %v", err)
	}
}

func TestLink_HelloCarriesHeldIndexAndGetsOnlyNewerChanges(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	for i := 1; i <= 3; i++ {
		fake.Put("Offer", fmt.Sprintf("o%d", i), map[string]any{"value": i})
	}
	dir := t.TempDir()
	a := mustOpen(t, dir, newConfig(t, dir, []string{fake.Addr()}, fake.JoinToken(time.Hour, 1)))
	a.run()
	agenttest.WaitFor(t, 10*time.Second, "the snapshot", func() bool { return a.cache.Position().Index == 3 })
	if s := fake.Sent(); len(s) != 1 || !s[0].Snapshot || s[0].After != 0 {
		t.Fatalf("first catch-up: %+v", s)
	}
	// Pushed live.
	fake.Put("Offer", "o4", map[string]any{"value": 4})
	agenttest.WaitFor(t, 2*time.Second, "a pushed change", func() bool { return a.cache.Position().Index == 4 })
	a.stop()

	fake.Put("Offer", "o5", map[string]any{"value": 5})
	fake.Delete("Offer", "o1")
	a = mustOpen(t, dir, newConfig(t, dir, []string{fake.Addr()}, ""))
	a.run()
	agenttest.WaitFor(t, 10*time.Second, "catch-up", func() bool { return a.cache.Position().Index == 6 })
	hellos := fake.Hellos()
	h := hellos[len(hellos)-1]
	if h.Index != 4 || h.ClusterID != fake.ClusterID() || h.Epoch != 1 || h.AgentID != agentID || h.ProtocolVersion != wire.ProtocolVersion {
		t.Fatalf("hello after restart: %+v", h)
	}
	sent := fake.Sent()
	if s := sent[len(sent)-1]; s.Snapshot || s.After != 4 || s.Changes != 2 || s.Index != 6 {
		t.Fatalf("catch-up after restart: %+v", s)
	}
	if _, ok, _ := a.cache.Get("Offer", "o1"); ok {
		t.Fatal("deleted offer still cached")
	}
	if o, ok, _ := a.cache.Get("Offer", "o5"); !ok || o.Index != 5 {
		t.Fatalf("o5: %+v %v", o, ok)
	}
}

// The index an agent reports applied is what customers erase confirms on:
// a pushed change is reported soon after it is applied, not at the next
// periodic Status (an hour away here).
func TestLink_ReportsAppliedChangesWithoutWaitingForThePeriodicStatus(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	fake.Put("Offer", "o1", map[string]any{"value": 1})
	dir := t.TempDir()
	cfg := newConfig(t, dir, []string{fake.Addr()}, fake.JoinToken(time.Hour, 1))
	cfg.Timing.StatusEvery = time.Hour
	a := mustOpen(t, dir, cfg)
	a.run()
	agenttest.WaitFor(t, 10*time.Second, "the snapshot", func() bool { return a.cache.Position().Index == 1 })
	reported := func(idx uint64) func() bool {
		return func() bool {
			ss := fake.Statuses(agentID)
			return len(ss) > 0 && ss[len(ss)-1].Index >= idx
		}
	}
	agenttest.WaitFor(t, 5*time.Second, "the snapshot's index reported", reported(1))
	for i := 2; i <= 4; i++ {
		idx := fake.Put("Offer", fmt.Sprintf("o%d", i), map[string]any{"value": i})
		agenttest.WaitFor(t, 5*time.Second, fmt.Sprintf("index %d reported", idx), reported(idx))
	}
	// Three pushes, each reported: a handful of Status frames, not one
	// per page of a bulk import (appliedStatusGap spaces them).
	if n := len(fake.Statuses(agentID)); n > 8 {
		t.Fatalf("%d status frames for 4 applied positions", n)
	}
}

func TestLink_NewEpochGetsASnapshot(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	fake.Put("Offer", "a", map[string]any{"value": 1})
	dir := t.TempDir()
	a := mustOpen(t, dir, newConfig(t, dir, []string{fake.Addr()}, fake.JoinToken(time.Hour, 1)))
	a.run()
	agenttest.WaitFor(t, 10*time.Second, "the first snapshot", func() bool { return a.cache.Position().Index == 1 })
	fake.SetEpoch(2) // a restored cluster
	agenttest.WaitFor(t, 10*time.Second, "the new epoch", func() bool { return a.cache.Position().Epoch == 2 })
	if s := fake.Sent(); !s[len(s)-1].Snapshot {
		t.Fatalf("catch-up into the new epoch: %+v", s[len(s)-1])
	}
}

func TestLink_EventsAreAckedAndDeleted(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	dir := t.TempDir()
	cfg := newConfig(t, dir, []string{fake.Addr()}, fake.JoinToken(time.Hour, 1))
	cfg.BatchMax = 100
	a := mustOpen(t, dir, cfg)
	a.appendEvents(10) // before the link runs: sent once connected
	a.run()
	agenttest.WaitFor(t, 10*time.Second, "10 events acknowledged", func() bool { return a.ob.Stats().Backlog == 0 && a.ob.Stats().Acked == 10 })
	a.appendEvents(1500)
	agenttest.WaitFor(t, 20*time.Second, "1510 events acknowledged", func() bool { return a.ob.Stats().Acked == 1510 })
	if st := a.ob.Stats(); st.Backlog != 0 || st.BacklogBytes != 0 {
		t.Fatalf("outbox after acks: %+v", st)
	}
	evs := fake.Events(agentID)
	if len(evs) != 1510 {
		t.Fatalf("fake holds %d events", len(evs))
	}
	for i, e := range evs {
		if e.Seq != uint64(i+1) || e.AgentID != agentID || e.CustomerID == "" {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
	for _, b := range fake.Batches(agentID) {
		if b.Count > 100 || b.Duplicates != 0 {
			t.Fatalf("batch %+v: over BatchMax or resent", b)
		}
	}
	// The link counts an acknowledgement just after the outbox took it.
	agenttest.WaitFor(t, 5*time.Second, "the link's counters", func() bool { return a.link.Status().AckedSeq == 1510 })
	st := a.link.Status()
	if st.EventsSent != 1510 || st.EventsAcked != 1510 || st.AckedSeq != 1510 {
		t.Fatalf("status counters: %+v", st)
	}
	agenttest.WaitFor(t, 5*time.Second, "a status report of the drained outbox", func() bool {
		ss := fake.Statuses(agentID)
		return len(ss) > 0 && ss[len(ss)-1].NextSeq == 1511 && ss[len(ss)-1].OutboxBacklog == 0
	})
}

// The node commits a batch and the connection dies before its EventsAck
// arrives: the next session's Welcome acknowledges it, and only what the
// cluster does not hold is sent again.
func TestLink_ReconnectResendsOnlyUnacknowledgedEvents(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	dir := t.TempDir()
	cfg := newConfig(t, dir, []string{fake.Addr()}, fake.JoinToken(time.Hour, 1))
	cfg.Window = 10 // the held acknowledgements must not stop the sender
	a := mustOpen(t, dir, cfg)
	a.run()
	a.waitConnected()
	fake.HoldAcks(true)
	a.appendEvents(5)
	agenttest.WaitFor(t, 10*time.Second, "5 events committed", func() bool { return fake.HighestSeq(agentID) == 5 })
	if st := a.ob.Stats(); st.Acked != 0 || st.Backlog != 5 {
		t.Fatalf("unacknowledged events deleted: %+v", st)
	}
	// The cluster kept only 1..3 (say the node that took 4 and 5 lost them
	// before they committed), and the connection is cut.
	fake.SetHighestSeq(agentID, 3)
	fake.HoldAcks(false)
	fake.DropConnections()
	agenttest.WaitFor(t, 10*time.Second, "the outbox drained", func() bool { return a.ob.Stats().Acked == 5 })
	agenttest.WaitFor(t, 10*time.Second, "a second session", func() bool { return a.link.Status().Sessions == 2 })
	var resent []agenttest.Batch
	for _, b := range fake.Batches(agentID) {
		if b.Session > 1 {
			resent = append(resent, b)
		}
	}
	if len(resent) != 1 || resent[0].First != 4 || resent[0].Last != 5 || resent[0].Duplicates != 0 {
		t.Fatalf("resent after reconnect: %+v", resent)
	}
	if h := fake.Hellos(); h[len(h)-1].AckedSeq != 0 {
		t.Fatalf("second hello claims acked %d", h[len(h)-1].AckedSeq)
	}

	// The cluster holds everything: the next session acknowledges from
	// Welcome and sends nothing old.
	fake.HoldAcks(true)
	a.appendEvents(2)
	agenttest.WaitFor(t, 10*time.Second, "2 more committed", func() bool { return fake.HighestSeq(agentID) == 7 })
	fake.HoldAcks(false)
	fake.DropConnections()
	agenttest.WaitFor(t, 10*time.Second, "acked from welcome", func() bool { return a.ob.Stats().Acked == 7 })
	agenttest.WaitFor(t, 10*time.Second, "a third session", func() bool { return a.link.Status().Sessions == 3 })
	a.appendEvents(1)
	agenttest.WaitFor(t, 10*time.Second, "event 8", func() bool { return a.ob.Stats().Acked == 8 })
	for _, b := range fake.Batches(agentID) {
		if b.Session == 3 && b.First != 8 {
			t.Fatalf("third session resent %+v", b)
		}
	}
}

// Events stream failures are retried on new streams while the control
// stream stays up; 150 failures would exhaust the connection's 100 streams
// if any were leaked.
func TestLink_EventsStreamFailuresKeepTheSessionAndLeakNoStreams(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	dir := t.TempDir()
	cfg := newConfig(t, dir, []string{fake.Addr()}, fake.JoinToken(time.Hour, 1))
	cfg.BackoffMax = 5 * time.Millisecond
	a := mustOpen(t, dir, cfg)
	a.run()
	a.waitConnected()
	fake.FailNextBatches(150)
	a.appendEvents(20)
	agenttest.WaitFor(t, 30*time.Second, "the events after 150 failures", func() bool { return a.ob.Stats().Acked == 20 })
	if n := len(fake.Hellos()); n != 1 {
		t.Fatalf("%d hellos: the session was re-established", n)
	}
	if n := fake.MaxConcurrentEventStreams(); n != 1 {
		t.Fatalf("%d events streams at once", n)
	}
	if evs := fake.Events(agentID); len(evs) != 20 {
		t.Fatalf("fake holds %d events", len(evs))
	}
}

// A window of batches is in flight: with acknowledgements held, the agent
// sends at most Window batches.
func TestLink_WindowBoundsUnacknowledgedBatches(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	dir := t.TempDir()
	cfg := newConfig(t, dir, []string{fake.Addr()}, fake.JoinToken(time.Hour, 1))
	cfg.BatchMax, cfg.Window = 10, 3
	a := mustOpen(t, dir, cfg)
	a.run()
	a.waitConnected()
	fake.HoldAcks(true)
	a.appendEvents(100)
	agenttest.WaitFor(t, 10*time.Second, "three batches", func() bool { return len(fake.Batches(agentID)) >= 3 })
	time.Sleep(200 * time.Millisecond)
	if n := len(fake.Batches(agentID)); n != 3 {
		t.Fatalf("%d batches in flight, window 3", n)
	}
	fake.HoldAcks(false)
	fake.DropConnections() // acks are lost; the next session resumes from the mark
	agenttest.WaitFor(t, 10*time.Second, "everything acknowledged", func() bool { return a.ob.Stats().Acked == 100 })
}

func TestLink_RotatesToAWorkingServer(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	dead, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}) // never answers
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	dir := t.TempDir()
	cfg := newConfig(t, dir, []string{dead.LocalAddr().String(), fake.Addr()}, fake.JoinToken(time.Hour, 1))
	cfg.DialTimeout = 300 * time.Millisecond
	a := mustOpen(t, dir, cfg)
	a.run()
	a.waitConnected()
	if st := a.link.Status(); st.Server != fake.Addr() || st.Node != "fake-node" || st.ClusterID != fake.ClusterID() {
		t.Fatalf("status: %+v", st)
	}
}

func TestLink_RevokedAgentBacksOffAndKeepsItsData(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	fake.Put("Offer", "a", map[string]any{"value": 1})
	dir := t.TempDir()
	a := mustOpen(t, dir, newConfig(t, dir, []string{fake.Addr()}, fake.JoinToken(time.Hour, 1)))
	a.run()
	agenttest.WaitFor(t, 10*time.Second, "the configuration", func() bool { return a.cache.Position().Index == 1 })
	fake.Revoke(agentID)
	agenttest.WaitFor(t, 10*time.Second, "the refusal", func() bool {
		st := a.link.Status()
		return !st.Connected && strings.Contains(st.LastError, "revoked")
	})
	if !a.link.Revoked() {
		t.Fatal("Revoked is false after the cluster said so")
	}
	n := len(fake.Hellos())
	time.Sleep(100 * time.Millisecond) // RefusedBackoff is 150-300ms here
	if len(fake.Hellos()) > n+1 {
		t.Fatalf("hellos went from %d to %d in 100ms: no long backoff", n, len(fake.Hellos()))
	}
	if a.cache.Position().Index != 1 {
		t.Fatal("the copy was dropped")
	}
}

func TestLink_KeyringAndServersArePersistedAndReported(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	dir := t.TempDir()
	a := mustOpen(t, dir, newConfig(t, dir, []string{fake.Addr()}, fake.JoinToken(time.Hour, 1)))
	a.run()
	a.waitConnected()
	keys := [][]byte{bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{8}, 32)}
	fake.SetKeyring(keys)
	agenttest.WaitFor(t, 5*time.Second, "the new keyring", func() bool {
		k := a.lastKeyring()
		return len(k) == 2 && bytes.Equal(k[0], keys[0])
	})
	servers := []wire.ServerInfo{{ID: "fake-node", QUICAddr: fake.Addr(), GossipAddr: "127.0.0.1:1"}, {ID: "n2", QUICAddr: "127.0.0.1:2"}}
	fake.SetServers(servers)
	fake.DropConnections()
	agenttest.WaitFor(t, 10*time.Second, "the new server list", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.servers) > 0 && slices.Equal(a.servers[len(a.servers)-1], servers)
	})
	a.stop()
	a = mustOpen(t, dir, newConfig(t, dir, nil, "")) // no --controlplane: the known servers do
	a.run()
	a.waitConnected()
	if k := a.lastKeyring(); len(k) != 2 || !bytes.Equal(k[1], keys[1]) {
		t.Fatalf("keyring after restart: %v", k)
	}
	a.mu.Lock()
	first := a.servers[0]
	a.mu.Unlock()
	if !slices.Equal(first, servers) {
		t.Fatalf("servers reported at start: %+v", first)
	}
}

// The stubs satisfy the interfaces for tests that only construct a link.
type fakeCache struct{}

func (fakeCache) Position() cache.Position                                 { return cache.Position{} }
func (fakeCache) ApplyChanges(cache.Position, []api.Change) (int, error)   { return 0, nil }
func (fakeCache) ApplySnapshot(cache.Position, []api.Object) (bool, error) { return false, nil }

type fakeOutbox struct{}

func (fakeOutbox) PendingBinary(uint64, int) (int, []byte, uint64, uint64, error) {
	return 0, nil, 0, 0, nil
}
func (fakeOutbox) Ack(uint64) error             { return nil }
func (fakeOutbox) Stats() outbox.Stats          { return outbox.Stats{NextSeq: 1} }
func (fakeOutbox) Appended() <-chan struct{}    { return nil }
func (fakeOutbox) SkipPast(uint64) (int, error) { return 0, nil }

// A server given by name is looked up under the dial's context: with a
// resolver that never answers (an edge site whose uplink, and so its DNS,
// is down), closing the link ends a pending lookup at once. Before, the
// lookup took no context and held the agent's shutdown for up to the
// resolver's own 10 s (two attempts of 5 s).
func TestLink_CloseEndsAServerLookupThatHangs(t *testing.T) {
	silent, err := net.ListenPacket("udp", "127.0.0.1:0") // a DNS server that reads and never answers
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = silent.Close() })
	asked := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 512)
		for {
			if _, _, err := silent.ReadFrom(buf); err != nil {
				return
			}
			select {
			case asked <- struct{}{}:
			default:
			}
		}
	}()
	fake := agenttest.Start(t, agenttest.Config{})
	dir := t.TempDir()
	cfg := newConfig(t, dir, []string{"cp1.site.example:7803"}, fake.JoinToken(time.Hour, 1))
	cfg.DialTimeout = time.Hour // only the close can end the lookup
	cfg.Resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", silent.LocalAddr().String())
	}}
	a := mustOpen(t, dir, cfg)
	a.run()
	select {
	case <-asked:
	case <-time.After(10 * time.Second):
		t.Fatal("the link never asked the resolver")
	}
	closed := make(chan struct{})
	go func() { _ = a.link.Close(); close(closed) }() // Close waits for Run
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the pending lookup")
	}
	a.cancel()
	if err := <-a.done; err != nil {
		t.Errorf("run: %v", err)
	}
	a.cancel = nil // stopped: nothing for a.stop to wait for
}
