package agent_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/agent"
	"touchpoint.dev/touchpoint/agent/agenttest"
)

// A second agent started on a data directory a live agent holds is told
// that another agent process runs there, by a sentinel the command maps
// to its code, and not by badger's lock message alone. It also pins what
// New reads of badger: an upgrade that changes badger's lock error fails
// here.
func TestNew_SecondAgentOnALiveDataDirectory(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	dir := filepath.Join(t.TempDir(), "kiosk-7")
	cfg := config(t, dir, []string{fake.Addr()}, fake.JoinToken(time.Hour, 1))
	first, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()

	second, err := agent.New(cfg)
	if err == nil {
		second.Close()
		t.Fatal("a second agent opened a data directory a live agent holds")
	}
	if !errors.Is(err, agent.ErrDataDirInUse) {
		t.Fatalf("error %v is not ErrDataDirInUse", err)
	}
	want := fmt.Sprintf("agent: another agent process is running on this data directory, %s (process %d holds %s): stop that agent first",
		dir, os.Getpid(), filepath.Join(dir, "cache"))
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start %q", err, want)
	}

	// Once the first has stopped, the directory is free again.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := agent.New(cfg)
	if err != nil {
		t.Fatalf("after the first agent closed: %v", err)
	}
	again.Close()
}

// A Config value New refuses is a ConfigError naming the setting as the
// command's flag does, and nothing is created on disk.
func TestNew_RefusedSettingsAreConfigErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "never")
	for setting, mutate := range map[string]func(*agent.Config){
		"id":               func(c *agent.Config) { c.ID = "a b" },
		"site":             func(c *agent.Config) { c.Site = " " },
		"channel":          func(c *agent.Config) { c.Channel = "fax" },
		"region":           func(c *agent.Config) { c.Region = "a/b" },
		"outbox-max-bytes": func(c *agent.Config) { c.OutboxMaxBytes = -1 },
		"timezone":         func(c *agent.Config) { c.Timezone = "Mars/Olympus" },
		"http-addr":        func(c *agent.Config) { c.HTTPAddr = "nohost" },
		"gossip-addr":      func(c *agent.Config) { c.GossipAddr = "nohost" },
		"controlplane":     func(c *agent.Config) { c.ControlPlane = []string{"nohost"} },
		"gossip-join":      func(c *agent.Config) { c.GossipJoin = []string{"nohost"} },
	} {
		cfg := config(t, dir, []string{"127.0.0.1:1"}, "")
		mutate(&cfg)
		_, err := agent.New(cfg)
		var ce *agent.ConfigError
		if !errors.As(err, &ce) || ce.Setting != setting {
			t.Errorf("%s: error %v (%T), want a ConfigError for %s", setting, err, err, setting)
		}
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("a refused configuration created %s", dir)
	}
}
