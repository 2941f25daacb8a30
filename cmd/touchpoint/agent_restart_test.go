package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/agent/agenttest"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// cmdAgent is `touchpoint agent …` running in the test's process, as the
// binary would run it.
type cmdAgent struct {
	cancel context.CancelFunc
	done   chan int
	mu     sync.Mutex
	stderr bytes.Buffer
}

func startCmdAgent(t *testing.T, args ...string) *cmdAgent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ca := &cmdAgent{cancel: cancel, done: make(chan int, 1)}
	go func() {
		var out bytes.Buffer
		ca.done <- run(ctx, append([]string{"touchpoint", "agent", "--log-level", "warn"}, args...), &out, lockedWriter{&ca.mu, &ca.stderr})
	}()
	t.Cleanup(func() { ca.stop(t) })
	return ca
}

// stop cancels the command (as SIGTERM does) and waits for it to return.
func (ca *cmdAgent) stop(t *testing.T) {
	t.Helper()
	if ca.cancel == nil {
		return
	}
	ca.cancel()
	select {
	case <-ca.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("touchpoint agent did not stop; stderr %q", ca.errors())
	}
	ca.cancel = nil
}

func (ca *cmdAgent) errors() string {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.stderr.String()
}

// exited reports whether the command returned (and with which status).
func (ca *cmdAgent) exited() (int, bool) {
	select {
	case code := <-ca.done:
		ca.done <- code
		return code, true
	default:
		return 0, false
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// cmdAgentStatus is GET /v1/status's who-is-it part, or ok false while the
// API does not answer.
func cmdAgentStatus(addr string) (st struct{ ID, Site, Channel string }, ok bool) {
	resp, err := http.Get("http://" + addr + "/v1/status")
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	return st, resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&st) == nil
}

// rememberedHTTPAddr is the --http-addr DIR/agent.json remembers.
func rememberedHTTPAddr(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, agentFile))
	if err != nil {
		return ""
	}
	var af agentFlags
	if json.Unmarshal(b, &af) != nil {
		return ""
	}
	return af.HTTPAddr
}

func hellosFrom(fake *agenttest.FakeControlPlane, id string) int {
	n := 0
	for _, h := range fake.Hellos() {
		if h.AgentID == id {
			n++
		}
	}
	return n
}

// An enrolled agent restarts with --data-dir alone: DIR remembers its id
// (the certificate), site and channel (role.json), API address
// (agent.json) and servers (servers.json). What it enrolled with cannot be
// changed by a flag given again, and each refusal is a usage error that
// names what DIR holds.
func TestAgentCommand_RestartsWithTheDataDirAlone(t *testing.T) {
	t.Setenv("TOUCHPOINT_LANG", "en")
	fake := agenttest.Start(t, agenttest.Config{})
	// The cluster announces its server: the agent remembers it and needs
	// no --controlplane after enrolling.
	fake.SetServers([]wire.ServerInfo{{ID: "fake-node", QUICAddr: fake.Addr()}})
	dir := filepath.Join(t.TempDir(), "kiosk-7")

	first := startCmdAgent(t, "--id", "kiosk-7", "--data-dir", dir, "--site", "sh-01", "--channel", "kiosk",
		"--http-addr", "127.0.0.1:0", "--gossip-addr", "127.0.0.1:0",
		"--controlplane", fake.Addr(), "--join-token", fake.JoinToken(time.Hour, 1))
	var addr string
	waitFor(t, "the first start to enroll and serve", 30*time.Second, func() bool {
		if code, done := first.exited(); done {
			t.Fatalf("first start exited %d: %s", code, first.errors())
		}
		addr = rememberedHTTPAddr(dir)
		st, ok := cmdAgentStatus(addr)
		return ok && st.ID == "kiosk-7" && hellosFrom(fake, "kiosk-7") > 0
	})
	if strings.HasSuffix(addr, ":0") {
		t.Fatalf("agent.json remembers %s, want the port bound", addr)
	}

	// A second agent on the live directory is told so, by its own code.
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"touchpoint", "agent", "--data-dir", dir, "--http-addr", "127.0.0.1:0"}, &out, &errb); code == 0 ||
		!strings.Contains(errb.String(), "error: in_use: agent: another agent process is running on this data directory, "+dir) {
		t.Errorf("second agent on a live data directory: exit %d, stderr %q", code, errb.String())
	}
	first.stop(t)
	hellos := hellosFrom(fake, "kiosk-7")

	// What DIR holds is not overridden, and the refusal names it.
	for _, tc := range []struct{ args, want string }{
		{"--id kiosk-8", "error: usage: --id kiosk-8: " + dir + " belongs to agent kiosk-7 (its identity and outbox are that agent's): start it with --id kiosk-7 or without --id"},
		{"--site sh-02", `error: usage: --site sh-02: agent kiosk-7 enrolled as site "sh-01", channel "kiosk", and keeps them`},
		{"--channel ivr", `error: usage: --channel ivr: agent kiosk-7 enrolled as site "sh-01", channel "kiosk", and keeps them`},
	} {
		var out, errb bytes.Buffer
		args := append([]string{"touchpoint", "agent", "--data-dir", dir}, strings.Fields(tc.args)...)
		if code := run(context.Background(), args, &out, &errb); code == 0 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %q", tc.args, code, errb.String(), tc.want)
		}
	}

	// The restart: --data-dir alone, no token, no --controlplane.
	again := startCmdAgent(t, "--data-dir", dir)
	waitFor(t, "the restart to serve where the first start did and reach the control plane", 30*time.Second, func() bool {
		if code, done := again.exited(); done {
			t.Fatalf("restart with --data-dir alone exited %d: %s", code, again.errors())
		}
		st, ok := cmdAgentStatus(addr)
		if ok && (st.ID != "kiosk-7" || st.Site != "sh-01" || st.Channel != "kiosk") {
			t.Fatalf("restarted agent says it is %+v", st)
		}
		return ok && hellosFrom(fake, "kiosk-7") > hellos
	})
	again.stop(t)

	// The flags it enrolled with, given again, agree and are accepted.
	same := startCmdAgent(t, "--data-dir", dir, "--id", "kiosk-7", "--site", "sh-01", "--channel", "kiosk")
	waitFor(t, "a restart with the same flags", 30*time.Second, func() bool {
		if code, done := same.exited(); done {
			t.Fatalf("restart with the enrolled flags exited %d: %s", code, same.errors())
		}
		_, ok := cmdAgentStatus(addr)
		return ok
	})
	same.stop(t)
}

// A directory enrolled before role.json was written knows its agent's id
// (the certificate names it) but not its site and channel: a restart
// without them says so, and once given they are remembered.
func TestAgentCommand_OldDirectoryNeedsSiteAndChannelOnce(t *testing.T) {
	t.Setenv("TOUCHPOINT_LANG", "en")
	fake := agenttest.Start(t, agenttest.Config{})
	dir := filepath.Join(t.TempDir(), "ivr-1")
	first := startCmdAgent(t, "--id", "ivr-1", "--data-dir", dir, "--site", "cc-01", "--channel", "ivr",
		"--http-addr", "127.0.0.1:0", "--gossip-addr", "127.0.0.1:0",
		"--controlplane", fake.Addr(), "--join-token", fake.JoinToken(time.Hour, 1))
	waitFor(t, "enrollment", 30*time.Second, func() bool {
		if code, done := first.exited(); done {
			t.Fatalf("first start exited %d: %s", code, first.errors())
		}
		_, ok := cmdAgentStatus(rememberedHTTPAddr(dir))
		return ok && hellosFrom(fake, "ivr-1") > 0
	})
	first.stop(t)
	role := filepath.Join(dir, "identity", "role.json")
	if err := os.Remove(role); err != nil {
		t.Fatal(err)
	}

	var out, errb bytes.Buffer
	want := "error: usage: required flags --site, --channel not given (agent ivr-1 in " + dir + " enrolled before its site and channel were recorded"
	if code := run(context.Background(), []string{"touchpoint", "agent", "--data-dir", dir}, &out, &errb); code == 0 || !strings.Contains(errb.String(), want) {
		t.Errorf("exit %d, stderr %q; want %q", code, errb.String(), want)
	}

	again := startCmdAgent(t, "--data-dir", dir, "--site", "cc-01", "--channel", "ivr", "--controlplane", fake.Addr())
	waitFor(t, "the restart with --site and --channel to record them", 30*time.Second, func() bool {
		if code, done := again.exited(); done {
			t.Fatalf("restart exited %d: %s", code, again.errors())
		}
		_, err := os.Stat(role)
		return err == nil
	})
	again.stop(t)
	errb.Reset()
	if code := run(context.Background(), []string{"touchpoint", "agent", "--data-dir", dir, "--channel", "kiosk"}, &out, &errb); code == 0 ||
		!strings.Contains(errb.String(), `error: usage: --channel kiosk: agent ivr-1 enrolled as site "cc-01", channel "ivr"`) {
		t.Errorf("after role.json was recorded, --channel kiosk: exit %d, stderr %q", code, errb.String())
	}
}

// The first start of an agent needs its id, site and channel: a DIR that
// holds no identity has none to give.
func TestAgentCommand_FirstStartNeedsIDSiteAndChannel(t *testing.T) {
	t.Setenv("TOUCHPOINT_LANG", "en")
	fresh := t.TempDir()
	for args, want := range map[string]string{
		"":        "error: usage: required flags --id, --site, --channel not given (" + fresh + " holds no enrolled agent to take them from: the agent's first start, with --join-token, needs them)",
		"--id k1": "error: usage: required flags --site, --channel not given (" + fresh + " holds no enrolled agent",
	} {
		var out, errb bytes.Buffer
		line := append([]string{"touchpoint", "agent", "--data-dir", fresh, "--http-addr", "127.0.0.1:0"}, strings.Fields(args)...)
		if code := run(context.Background(), line, &out, &errb); code == 0 || !strings.Contains(errb.String(), want) {
			t.Errorf("%q: exit %d, stderr %q; want %q", args, code, errb.String(), want)
		}
	}
}
