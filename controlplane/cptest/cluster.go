// Package cptest starts in-process control-plane clusters on loopback with
// short Raft timeouts, for tests in any package.
package cptest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"touchpoint.dev/touchpoint/controlplane"
	"touchpoint.dev/touchpoint/controlplane/store"
	"touchpoint.dev/touchpoint/protocol/api"
)

// Node is one in-process control-plane node.
type Node struct {
	ID string
	// Net cuts the node's raft traffic off and restores it.
	Net      *PartitionLayer
	DataDir  string
	Server   *controlplane.Server
	cancel   context.CancelFunc
	done     chan error
	raftAddr string
	httpAddr string
	quicAddr string
}

// Cluster is a set of nodes that share one admin token.
type Cluster struct {
	t      testing.TB
	Nodes  []*Node
	Token  string
	modify func(*controlplane.Config)
}

// Option changes every node's configuration.
type Option func(*controlplane.Config)

// ProductionRaft undoes the short test timeouts, for benchmarks that must
// run with what a deployment uses (hashicorp/raft's defaults, the store's
// commit timeout): long bulk writes on a loaded two-core machine would
// otherwise flap the leadership.
func ProductionRaft(cfg *controlplane.Config) {
	cfg.Raft.HeartbeatTimeout = 0
	cfg.Raft.ElectionTimeout = 0
	cfg.Raft.LeaderLeaseTimeout = 0
	cfg.Raft.CommitTimeout = 0
	cfg.Raft.FSM.ValueLogFileSize = 0
}

// FastRaft shortens raft's timeouts for tests.
func FastRaft(c *controlplane.Config) {
	c.Raft.HeartbeatTimeout = 200 * time.Millisecond
	c.Raft.ElectionTimeout = 200 * time.Millisecond
	c.Raft.LeaderLeaseTimeout = 100 * time.Millisecond
	c.Raft.CommitTimeout = 5 * time.Millisecond
	c.Raft.FSM.ValueLogFileSize = 16 << 20
}

// FastGossip is memberlist timing for tests: an agent beating every 200 ms
// is suspect 600 ms after its last beat, and memberlist declares a killed
// member dead no sooner than 1.2 s after its first failed probe.
var FastGossip = controlplane.GossipTiming{ProbeInterval: 200 * time.Millisecond, ProbeTimeout: 100 * time.Millisecond,
	GossipInterval: 50 * time.Millisecond, SuspicionMult: 6, SuspectAfter: 600 * time.Millisecond}

// Logger returns a logger that writes to the test log at warn level (set
// TOUCHPOINT_TEST_LOG=debug for everything; TOUCHPOINT_TEST_LOG=stderr
// writes warnings to stderr instead, whole: a benchmark's log is cut).
func Logger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	tw := &testWriter{t: t}
	t.Cleanup(tw.close)
	var w io.Writer = tw
	switch os.Getenv("TOUCHPOINT_TEST_LOG") {
	case "debug":
		level = slog.LevelDebug
	case "stderr":
		w = os.Stderr
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// testWriter writes to the test log until the test's cleanups run; a
// goroutine of a stopped node that logs later (memberlist's, raft's
// transport) writes to stderr instead: testing panics on a Log after the
// test has completed.
type testWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *testWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return os.Stderr.Write(p)
	}
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// New starts an n-node cluster: node 0 bootstraps, the others join through
// it. It waits until every node is a voter and has applied the cluster's
// initialisation, and stops every node at cleanup.
func New(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	c := &Cluster{t: t, modify: func(cfg *controlplane.Config) {
		FastRaft(cfg)
		for _, o := range opts {
			o(cfg)
		}
	}}
	base := t.TempDir()
	first := c.start(&Node{ID: "n0", DataDir: filepath.Join(base, "n0")}, true, "")
	c.Nodes = append(c.Nodes, first)
	tok := waitFile(t, filepath.Join(first.DataDir, controlplane.AdminTokenFile))
	c.Token = tok
	for i := 1; i < n; i++ {
		id := fmt.Sprintf("n%d", i)
		nd := c.start(&Node{ID: id, DataDir: filepath.Join(base, id)}, false, "http://"+first.httpAddr)
		c.Nodes = append(c.Nodes, nd)
	}
	c.WaitMembers(n)
	t.Cleanup(func() {
		for _, nd := range c.Nodes {
			nd.Stop()
		}
	})
	return c
}

func waitFile(t testing.TB, path string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s was not written", path)
	return ""
}

func (c *Cluster) start(nd *Node, bootstrap bool, join string) *Node {
	c.t.Helper()
	cfg := controlplane.Config{
		ID: nd.ID, DataDir: nd.DataDir,
		RaftAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", QUICAddr: "127.0.0.1:0", GossipAddr: "127.0.0.1:0",
		GossipTiming: FastGossip,
		Bootstrap:    bootstrap, Join: join, Token: c.Token,
		Version: "test", Logger: Logger(c.t).With("node", nd.ID),
	}
	if nd.raftAddr != "" {
		// A restarted node keeps its addresses: raft knows it by them.
		cfg.RaftAddr, cfg.HTTPAddr, cfg.QUICAddr = nd.raftAddr, nd.httpAddr, nd.quicAddr
	}
	c.modify(&cfg)
	cfg.Raft.WrapStream = func(l raft.StreamLayer) raft.StreamLayer {
		nd.Net = NewPartitionLayer(l)
		return nd.Net
	}
	var srv *controlplane.Server
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		srv, err = controlplane.New(cfg)
		if err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
		time.Sleep(100 * time.Millisecond) // the old listener is closing
	}
	if err != nil {
		c.t.Fatalf("start node %s: %v", nd.ID, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	nd.Server, nd.cancel, nd.done = srv, cancel, make(chan error, 1)
	nd.raftAddr, nd.httpAddr, nd.quicAddr = srv.RaftAddr(), srv.HTTPAddr(), srv.QUICAddr()
	go func() { nd.done <- srv.Run(ctx) }()
	return nd
}

// QUICAddr is the node's agent gateway address.
func (n *Node) QUICAddr() string { return n.quicAddr }

// URL is the node's admin base URL.
func (n *Node) URL() string { return "http://" + n.httpAddr }

// Stop shuts the node down gracefully (leadership transfer included).
func (n *Node) Stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	<-n.done
	n.cancel = nil
}

// Kill stops the node abruptly: no leadership transfer, listeners dropped.
func (n *Node) Kill() {
	if n.cancel == nil {
		return
	}
	n.Server.Kill()
	n.cancel()
	<-n.done
	n.cancel = nil
}

// Restart starts a stopped node again from its data directory.
func (c *Cluster) Restart(n *Node) {
	c.t.Helper()
	c.start(n, false, "")
}

// Client returns an admin client for node i.
func (c *Cluster) Client(i int) *api.Client {
	return api.NewClient(c.Nodes[i].URL(), c.Token, nil)
}

// Leader waits for a leader among the running nodes and returns its
// position.
func (c *Cluster) Leader() int {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for i, n := range c.Nodes {
			if n.cancel != nil && n.Server.Store().IsLeader() {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal("no leader elected")
	return -1
}

// Follower returns the position of a running node that is not the leader.
func (c *Cluster) Follower() int {
	c.t.Helper()
	l := c.Leader()
	for i, n := range c.Nodes {
		if i != l && n.cancel != nil {
			return i
		}
	}
	c.t.Fatal("no running follower")
	return -1
}

// WaitMembers waits until the leader's configuration has n servers and
// every running node has registered.
func (c *Cluster) WaitMembers(n int) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		l := c.Nodes[c.Leader()].Server.Store()
		servers, err := l.Servers()
		nodes, _ := l.FSM().Nodes()
		if err == nil && len(servers) == n && len(nodes) >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("cluster did not reach %d members", n)
}

// WaitApplied waits until every running node has applied index idx.
func (c *Cluster) WaitApplied(idx uint64) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range c.Nodes {
		if n.cancel == nil {
			continue
		}
		if err := n.Server.Store().FSM().WaitApplied(ctx, idx); err != nil {
			c.t.Fatalf("node %s: %v", n.ID, err)
		}
	}
}

// Store is node i's raft store.
func (c *Cluster) Store(i int) *store.Store { return c.Nodes[i].Server.Store() }
