package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol/api"
)

// agentProc is a real `touchpoint agent` process.
type agentProc struct {
	t    *testing.T
	args []string
	http string
	cmd  *exec.Cmd
	log  *os.File
}

func startAgentProc(t *testing.T, bin, logPath string, args ...string) *agentProc {
	t.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	p := &agentProc{t: t, args: args, log: f}
	for i, a := range args {
		if a == "--http-addr" {
			p.http = args[i+1]
		}
	}
	p.start(bin)
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			_ = p.cmd.Wait()
		}
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("--- agent log ---\n%s", tail(string(b), 6000))
		}
	})
	return p
}

func (p *agentProc) start(bin string) {
	p.t.Helper()
	p.cmd = exec.Command(bin, p.args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
}

func (p *agentProc) kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
}

type agentStatus struct {
	Link struct {
		State string `json:"state"`
	} `json:"link"`
	Outbox struct {
		NextSeq uint64 `json:"nextSeq"`
		Acked   uint64 `json:"acked"`
		Backlog uint64 `json:"backlog"`
	} `json:"outbox"`
}

func (p *agentProc) status() (agentStatus, error) {
	var st agentStatus
	resp, err := http.Get("http://" + p.http + "/v1/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// TestSystem_ContactsEffectivelyOnceThroughAgentKillLeaderKillAndLinkCut:
// writers record contacts on a real agent process without pause while (a)
// the agent is killed with SIGKILL and restarted (its spent join token
// still on the command line), (b) the Raft leader is killed with SIGKILL,
// (c) every link between the agent and the cluster is cut for longer than
// the idle timeout and restored. Afterwards the control plane holds
// exactly the events the agent numbered, each once, and every event the
// agent acknowledged to a writer is among them.
func TestSystem_ContactsEffectivelyOnceThroughAgentKillLeaderKillAndLinkCut(t *testing.T) {
	if testing.Short() {
		t.Skip("system test")
	}
	bin := touchpointBinary(t)
	c := &sysCluster{t: t, bin: bin}
	base := t.TempDir()
	addrs := freeAddrs(t, 8)
	var proxies []*udpProxy
	for i := 0; i < 3; i++ {
		p := &proc{id: fmt.Sprintf("n%d", i+1), dir: filepath.Join(base, fmt.Sprintf("n%d", i+1)), raft: addrs[2*i], http: addrs[2*i+1]}
		c.procs = append(c.procs, p)
	}
	// Each node's gateway is reached through a proxy that can cut the
	// link; the nodes advertise the proxies, so agents only ever know them.
	quic := freeAddrs(t, 3) // TCP ports that were free: their UDP twins almost surely are
	for i := range c.procs {
		proxies = append(proxies, newUDPProxy(t, quic[i]))
	}
	extra := func(i int) []string {
		return []string{"--quic-addr", quic[i], "--quic-advertise", proxies[i].Addr(), "--gossip-addr", "127.0.0.1:0"}
	}
	t.Cleanup(func() {
		for _, p := range c.procs {
			if p.cmd != nil && p.cmd.ProcessState == nil {
				_ = p.cmd.Process.Signal(syscall.SIGTERM)
				_ = p.cmd.Wait()
			}
			if p.log != nil {
				p.log.Close()
				if t.Failed() {
					b, _ := os.ReadFile(p.log.Name())
					t.Logf("--- %s log ---\n%s", p.id, tail(string(b), 3000))
				}
			}
		}
	})
	c.start(c.procs[0], append(extra(0), "--bootstrap")...)
	tokenFile := filepath.Join(c.procs[0].dir, "admin.token")
	waitFor(t, "admin.token", 30*time.Second, func() bool {
		b, err := os.ReadFile(tokenFile)
		c.token = strings.TrimSpace(string(b))
		return err == nil && c.token != ""
	})
	for i, p := range c.procs[1:] {
		c.start(p, append(extra(i+1), "--join", "http://"+c.procs[0].http, "--token", c.token)...)
	}
	st := c.waitStatus(3, "")
	cl := c.client(c.byID(st.Leader))
	tok, err := cl.JoinToken(context.Background(), api.JoinTokenRequest{TTL: "1h", Uses: 1})
	if err != nil {
		t.Fatal(err)
	}
	var cps []string
	for _, p := range proxies {
		cps = append(cps, p.Addr())
	}
	ag := startAgentProc(t, bin, filepath.Join(base, "agent.log"), "agent", "--id", "kiosk-1", "--data-dir", filepath.Join(base, "kiosk-1"),
		"--site", "sh-01", "--channel", "kiosk", "--http-addr", addrs[6], "--controlplane", strings.Join(cps, ","),
		"--join-token", tok.Token, "--gossip-addr", "127.0.0.1:0", "--log-level", "info")
	waitFor(t, "agent connected", 30*time.Second, func() bool { s, err := ag.status(); return err == nil && s.Link.State == "connected" })

	// Writers: every 202 names a sequence the agent promised to deliver.
	var mu sync.Mutex
	acked := map[uint64]bool{}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	hc := &http.Client{Timeout: 5 * time.Second}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				body := fmt.Sprintf(`{"customerId":"C%d","type":"offer","outcome":"presented","offerId":"retain-10"}`, w)
				resp, err := hc.Post("http://"+ag.http+"/v1/contacts", "application/json", bytes.NewReader([]byte(body)))
				if err != nil {
					time.Sleep(20 * time.Millisecond) // the agent is down
					continue
				}
				var acc struct{ Seq uint64 }
				_ = json.NewDecoder(resp.Body).Decode(&acc)
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					mu.Lock()
					acked[acc.Seq] = true
					mu.Unlock()
				}
				time.Sleep(2 * time.Millisecond)
			}
		}(w)
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	time.Sleep(2 * time.Second)
	// (a) The agent is killed and restarted from its data directory.
	ag.kill9()
	t.Logf("agent killed after %d acknowledged contacts", count())
	ag.start(bin)
	waitFor(t, "restarted agent connected", 30*time.Second, func() bool { s, err := ag.status(); return err == nil && s.Link.State == "connected" })
	time.Sleep(2 * time.Second)
	// (b) The Raft leader is killed.
	st = c.waitStatus(3, "")
	leader := c.byID(st.Leader)
	c.kill9(leader)
	t.Logf("leader %s killed after %d acknowledged contacts", leader.id, count())
	c.waitStatus(3, leader.id)
	time.Sleep(2 * time.Second)
	// (c) Every link is cut for longer than the idle timeout.
	for _, p := range proxies {
		p.Cut()
	}
	t.Logf("links cut after %d acknowledged contacts", count())
	time.Sleep(12 * time.Second)
	for _, p := range proxies {
		p.Heal()
	}
	idx := 0
	for i, p := range c.procs {
		if p == leader {
			idx = i
		}
	}
	c.start(leader, extra(idx)...)
	time.Sleep(3 * time.Second)
	stop()
	wg.Wait()
	t.Logf("writers stopped: %d acknowledged contacts", count())
	if count() < 100 {
		t.Fatalf("only %d contacts acknowledged", count())
	}

	var last agentStatus
	waitFor(t, "the agent's backlog drains", 60*time.Second, func() bool {
		s, err := ag.status()
		last = s
		return err == nil && s.Outbox.Backlog == 0
	})
	numbered := last.Outbox.NextSeq - 1
	cl = c.client(c.byID(c.waitStatus(3, "").Leader))
	stats, err := cl.ContactStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(stats.Agents) != 1 || stats.Agents[0].HighestSequence != numbered || stats.Agents[0].Received != numbered || stats.Total != numbered {
		t.Fatalf("ledger %+v; the agent numbered %d events", stats, numbered)
	}
	seen := map[uint64]int{}
	for w := 0; w < 4; w++ {
		evs, err := cl.Contacts(context.Background(), fmt.Sprintf("C%d", w), "", 100000)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			seen[ev.Seq]++
		}
	}
	for seq, n := range seen {
		if n != 1 {
			t.Errorf("event %d stored %d times", seq, n)
		}
	}
	for seq := range acked {
		if seen[seq] != 1 {
			t.Errorf("acknowledged event %d lost", seq)
		}
	}
	t.Logf("%d acknowledged, %d numbered, %d in the ledger, each once", len(acked), numbered, len(seen))
}
