package integration

import (
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/cptest"
)

// Nodes find each other in gossip from the addresses kept in Raft, the
// leader registers every node's gossip address, and a node restarted on a
// new gossip port is found again and re-registered.
func TestGossip_NodesRegisterAndRejoinFromRaft(t *testing.T) {
	c := cptest.New(t, 3)
	waitGossip := func(what string) map[string]string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			l := c.Store(c.Leader())
			nodes, _ := l.FSM().Nodes()
			addrs := map[string]string{}
			for id, n := range nodes {
				if n.GossipAddr != "" && n.QUICAddr != "" {
					addrs[id] = n.GossipAddr
				}
			}
			if len(addrs) == 3 {
				return addrs
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: registered gossip addresses %v", what, addrs)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	before := waitGossip("at start")
	// Restart a follower: it binds a new gossip port (127.0.0.1:0).
	f := c.Follower()
	c.Nodes[f].Stop()
	c.Restart(c.Nodes[f])
	deadline := time.Now().Add(30 * time.Second)
	for {
		after := waitGossip("after restart")
		if after[c.Nodes[f].ID] != before[c.Nodes[f].ID] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted node's new gossip address was not registered: %v", after)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
