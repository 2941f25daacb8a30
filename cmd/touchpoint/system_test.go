package main

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol/api"
)

// System tests run the real binary as separate processes and kill them
// with SIGKILL: what survives is what was durable.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func touchpointBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "touchpoint-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "touchpoint")
		out, err := exec.Command("go", "build", "-race", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// freeAddrs returns n distinct free loopback addresses: every listener is
// held until all are chosen, so no two coincide. They are taken below the
// kernel's ephemeral range: the processes they are for bind them only
// later, and a port from that range can meanwhile become the source port
// of any outgoing connection on the machine (a system test failed so,
// "bind: address already in use", while other packages' tests ran).
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	lo := ephemeralLow()
	var addrs []string
	for tries := 0; len(addrs) < n; tries++ {
		if tries > 1000 {
			t.Fatalf("no free loopback port below %d after %d tries", lo, tries)
		}
		port := lo - 1 - mrand.IntN(min(lo-1024, 16384))
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux;
// 32768, its default, where it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if lo, err := strconv.Atoi(f[0]); err == nil && lo > 2048 {
				return lo
			}
		}
	}
	return 32768
}

type proc struct {
	id, dir, raft, http string
	cmd                 *exec.Cmd
	log                 *os.File
}

type sysCluster struct {
	t     *testing.T
	bin   string
	procs []*proc
	token string
}

func (c *sysCluster) start(p *proc, extra ...string) {
	c.t.Helper()
	args := []string{"controlplane", "--id", p.id, "--data-dir", p.dir, "--raft-addr", p.raft, "--http-addr", p.http, "--log-level", "warn"}
	args = append(args, extra...)
	cmd := exec.Command(c.bin, args...)
	if p.log == nil {
		f, err := os.Create(filepath.Join(filepath.Dir(p.dir), p.id+".log"))
		if err != nil {
			c.t.Fatal(err)
		}
		p.log = f
	}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	p.cmd = cmd
}

func (c *sysCluster) kill9(p *proc) {
	c.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

func (c *sysCluster) client(p *proc) *api.Client {
	return api.NewClient("http://"+p.http, c.token, nil)
}

// startSystemCluster starts n real processes: the first bootstraps, the
// others join through it with the admin token it wrote.
func startSystemCluster(t *testing.T, n int) *sysCluster {
	t.Helper()
	c := &sysCluster{t: t, bin: touchpointBinary(t)}
	base := t.TempDir()
	addrs := freeAddrs(t, 2*n)
	for i := 0; i < n; i++ {
		c.procs = append(c.procs, &proc{id: fmt.Sprintf("n%d", i+1), dir: filepath.Join(base, fmt.Sprintf("n%d", i+1)), raft: addrs[2*i], http: addrs[2*i+1]})
	}
	t.Cleanup(c.stopAll)
	c.bootstrap(c.procs[0])
	for _, p := range c.procs[1:] {
		c.start(p, "--join", "http://"+c.procs[0].http, "--token", c.token)
	}
	c.waitStatus(n, "")
	return c
}

// stopAll stops every node still running (SIGTERM, then SIGKILL after
// 10 s) and, when the test failed, logs the end of each node's log.
func (c *sysCluster) stopAll() {
	for _, p := range c.procs {
		if p.cmd != nil && p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = p.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = p.cmd.Process.Kill()
			}
		}
		if p.log != nil {
			p.log.Close()
			if c.t.Failed() {
				b, _ := os.ReadFile(p.log.Name())
				c.t.Logf("--- %s log ---\n%s", p.id, tail(string(b), 4000))
			}
		}
	}
}

// bootstrap starts p as a new cluster's first node and reads the admin
// token it writes.
func (c *sysCluster) bootstrap(p *proc, extra ...string) {
	c.t.Helper()
	c.start(p, append([]string{"--bootstrap"}, extra...)...)
	tokenFile := filepath.Join(p.dir, "admin.token")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(tokenFile); err == nil && len(b) > 0 {
			c.token = strings.TrimSpace(string(b))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatal("bootstrap node wrote no admin.token")
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// waitStatus waits until some live node reports a leader (other than
// notLeader) and `want` nodes none of which is unreachable except those
// killed.
func (c *sysCluster) waitStatus(want int, notLeader string) *api.ClusterStatus {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		for _, p := range c.procs {
			if p.cmd == nil || p.cmd.ProcessState != nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			st, err := c.client(p).ClusterStatus(ctx)
			cancel()
			if err != nil {
				last = err
				continue
			}
			up := 0
			for _, n := range st.Nodes {
				if n.State != api.StateUnreachable {
					up++
				}
			}
			if st.Leader != "" && st.Leader != notLeader && len(st.Nodes) == want && up >= want-countDead(c) {
				return st
			}
			last = fmt.Errorf("status %+v", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.t.Fatalf("cluster did not settle: %v", last)
	return nil
}

func countDead(c *sysCluster) int {
	n := 0
	for _, p := range c.procs {
		if p.cmd == nil || p.cmd.ProcessState != nil {
			n++
		}
	}
	return n
}

func (c *sysCluster) byID(id string) *proc {
	for _, p := range c.procs {
		if p.id == id {
			return p
		}
	}
	c.t.Fatalf("no node %s", id)
	return nil
}

func TestSystem_Kill9LeaderLosesNoAcknowledgedWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("system test")
	}
	c := startSystemCluster(t, 3)

	fi, err := os.Stat(filepath.Join(c.procs[0].dir, "admin.token"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if b, _ := os.ReadFile(filepath.Join(c.procs[0].dir, "admin.token")); string(b) != c.token+"\n" {
		t.Fatalf("admin.token holds %q; want the token and a newline", b)
	}

	// Writers keep writing through every node while the leader is killed.
	st := c.waitStatus(3, "")
	leader := c.byID(st.Leader)
	var mu sync.Mutex
	acked := map[string]bool{}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				p := c.procs[(w+i)%len(c.procs)]
				id := fmt.Sprintf("w%d-%d", w, i)
				doc := fmt.Sprintf(`{"kind":"Offer","id":%q,"category":"upsell","value":%d,"cost":0}`, id, i)
				rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, err := c.client(p).Apply(rctx, []byte(doc), "application/json")
				cancel()
				if err == nil {
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
			}
		}(w)
	}
	time.Sleep(1500 * time.Millisecond)
	c.kill9(leader)
	time.Sleep(3 * time.Second)
	stop()
	wg.Wait()
	if len(acked) < 20 {
		t.Fatalf("only %d writes acknowledged", len(acked))
	}

	st = c.waitStatus(3, leader.id)
	survivor := c.byID(st.Leader)
	rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	objs, err := c.client(survivor).List(rctx, "offers", false)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, o := range objs {
		have[o.ID] = true
	}
	for id := range acked {
		if !have[id] {
			t.Errorf("acknowledged write %s lost after kill -9 of the leader", id)
		}
	}
	t.Logf("%d acknowledged writes, %d stored, leader %s killed, new leader %s", len(acked), len(objs), leader.id, survivor.id)

	// The killed node restarts from its data directory (its old
	// --bootstrap flag is ignored) and catches up.
	c.start(leader, "--bootstrap")
	c.waitStatus(3, "")
	deadline := time.Now().Add(30 * time.Second)
	for {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		mine, err := c.client(leader).List(rctx, "offers", true)
		cancel()
		if err == nil && len(mine) == len(objs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted node has %d offers (err %v), leader has %d", len(mine), err, len(objs))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestSystem_RemoveDeadNodeAndKeepWorking(t *testing.T) {
	if testing.Short() {
		t.Skip("system test")
	}
	c := startSystemCluster(t, 3)
	st := c.waitStatus(3, "")
	var victim *proc
	for _, p := range c.procs {
		if p.id != st.Leader {
			victim = p
		}
	}
	c.kill9(victim)
	st = c.waitStatus(3, "")
	for _, n := range st.Nodes {
		if n.ID == victim.id && n.State != api.StateUnreachable {
			t.Fatalf("killed node reported %s", n.State)
		}
	}
	leader := c.byID(st.Leader)
	// What the operator reads: the dead node's admin address and why, once.
	show := exec.Command(c.bin, "--addr", "http://"+leader.http, "--token", c.token, "cluster", "status")
	show.Env = append(os.Environ(), "TOUCHPOINT_LANG=en")
	shown, err := show.CombinedOutput()
	if err != nil {
		t.Fatalf("cluster status: %v: %s", err, shown)
	}
	if want := victim.id + ": admin API at " + victim.http + ": connection refused"; !strings.Contains(string(shown), want) ||
		strings.Count(string(shown), victim.http) != 1 {
		t.Fatalf("cluster status after kill -9 of %s, want the line %q once:\n%s", victim.id, want, shown)
	}
	var out, errb strings.Builder
	cmd := exec.Command(c.bin, "--addr", "http://"+leader.http, "--token", c.token, "cluster", "remove", victim.id)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("cluster remove: %v: %s", err, errb.String())
	}
	st = c.waitStatus(2, "")
	if len(st.Nodes) != 2 {
		t.Fatalf("after remove: %+v", st)
	}
	rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.client(leader).Apply(rctx, []byte(`{"kind":"Offer","id":"after-remove","category":"care","value":0,"cost":0}`), "application/json"); err != nil {
		t.Fatalf("write after remove: %v", err)
	}

	// The leader that removed the dead node would hand it the entry
	// saying so when it comes back; a new leader does not. Started again
	// under a new leader, the removed node (its own log still lists it)
	// learns from the leader that it is out, and stops.
	c.kill9(leader)
	c.start(leader)
	c.waitStatus(2, "")
	c.start(victim)
	c.waitRemoved(victim, "the leader, n", ", does not list it")

	// A running node that is removed stops at once; started again, it
	// refuses. (It learns it from its own log when the leader's last
	// replication to it delivered the entry removing it, else from the
	// leader: either is right.)
	leader = c.byID(c.waitStatus(2, "").Leader)
	var other *proc
	for _, p := range c.procs {
		if p != victim && p != leader {
			other = p
		}
	}
	cmd = exec.Command(c.bin, "--addr", "http://"+leader.http, "--token", c.token, "cluster", "remove", other.id)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cluster remove %s: %v: %s", other.id, err, out)
	}
	c.waitRemoved(other, "")
	c.start(other)
	c.waitRemoved(other, "")
	if st := c.waitStatus(1, ""); st.Leader != leader.id || len(st.Nodes) != 1 {
		t.Fatalf("after removing two nodes: %+v", st)
	}
}

// waitRemoved waits until p's process ends, and checks that it ended with
// the error removed, saying how it learnt it (each of why) and what to do.
func (c *sysCluster) waitRemoved(p *proc, why ...string) {
	c.t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	select {
	case err := <-exited:
		if err == nil {
			c.t.Fatalf("removed node %s exited with status 0", p.id)
		}
	case <-time.After(60 * time.Second):
		c.t.Fatalf("removed node %s still running after 60 s", p.id)
	}
	b, err := os.ReadFile(p.log.Name())
	if err != nil {
		c.t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	last := lines[len(lines)-1]
	for _, want := range append([]string{"error: removed: node " + p.id + " was removed from the cluster (cluster remove): " + why[0], "empty the directory and start it with --join"}, why[1:]...) {
		if !strings.Contains(last, want) {
			c.t.Fatalf("removed node %s's last line, want %q in it:\n%s", p.id, want, last)
		}
	}
	if err := os.Truncate(p.log.Name(), 0); err != nil { // the next check reads only its own run
		c.t.Fatal(err)
	}
}

// TestSystem_NodeRestartsFromItsDataDirectoryAlone: a node remembers its
// id, addresses and gateway port in DIR/node.json, so that after kill -9
// `touchpoint controlplane --data-dir DIR` is all a restart needs, and an
// --id that is not DIR's is refused.
func TestSystem_NodeRestartsFromItsDataDirectoryAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("system test")
	}
	c := startSystemCluster(t, 1)
	n1 := c.procs[0]
	before, err := c.client(n1).Self(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c.kill9(n1)

	wrong := exec.Command(c.bin, "controlplane", "--data-dir", n1.dir, "--id", "n9")
	out, err := wrong.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "error: usage: --id n9: "+n1.dir+" belongs to node n1") {
		t.Fatalf("another --id on n1's directory: %v: %s", err, out)
	}

	n1.cmd = exec.Command(c.bin, "controlplane", "--data-dir", n1.dir, "--log-level", "warn")
	n1.cmd.Stdout, n1.cmd.Stderr = n1.log, n1.log
	if err := n1.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	st := c.waitStatus(1, "")
	if st.Leader != "n1" {
		t.Fatalf("after a restart from the directory alone: %+v", st)
	}
	after, err := c.client(n1).Self(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if after.ID != before.ID || after.RaftAddr != before.RaftAddr || after.HTTPAddr != before.HTTPAddr {
		t.Fatalf("restarted as %+v, was %+v", after, before)
	}
	b, err := os.ReadFile(filepath.Join(n1.dir, "node.json"))
	if err != nil || !strings.Contains(string(b), `"quicAddr": "127.0.0.1:`) || strings.Contains(string(b), `127.0.0.1:0"`) {
		t.Fatalf("node.json should hold the gateway's port the system picked: %s (%v)", b, err)
	}
}
