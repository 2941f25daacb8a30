package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/cptest"
)

// The leader, which answers fleet reads, names the follower holding an
// agent's session: the agent gossips it. fleet show said "(none: no node
// holds its session)" for an agent connected to a follower.
func TestFleet_TheLeaderNamesAFollowersSession(t *testing.T) {
	c := cptest.New(t, 3)
	tok := mintJoinToken(t, c.Client(c.Leader()), 1)
	cfg := newAgentConfig(t, c, "kiosk-1", "kiosk", tok)
	cfg.ControlPlane = []string{c.Nodes[c.Follower()].QUICAddr()}
	ag := startTestAgent(t, cfg)
	var holder string
	waitFor(t, "the agent connected", 20*time.Second, func() bool {
		st := ag.status()
		holder = st.Link.Node
		return st.Link.Connected && holder != ""
	})
	if l := c.Nodes[c.Leader()].ID; holder == l {
		t.Fatalf("the agent connected to the leader %s, not to the follower it was given", l)
	}
	for i, n := range c.Nodes {
		waitFor(t, "node "+n.ID+" names the session's node", 20*time.Second, func() bool {
			a, err := c.Client(i).FleetAgent(context.Background(), "kiosk-1")
			return err == nil && a.Session == holder
		})
		out := mustTP(t, n.URL(), c.Token, "fleet", "show", "kiosk-1")
		if !strings.Contains(out, holder) || strings.Contains(out, "no node holds its session") {
			t.Errorf("fleet show on %s (session on %s):\n%s", n.ID, holder, out)
		}
	}
}
