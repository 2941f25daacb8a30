package integration

import (
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane"
	"touchpoint.dev/touchpoint/controlplane/cptest"
)

// A leader that is stopped gracefully hands leadership over. The followers
// here would wait 20 s before starting an election of their own, so a new
// leader well within that can only come from the handover.
func TestShutdown_GracefulStopTransfersLeadership(t *testing.T) {
	c := cptest.New(t, 3, func(cfg *controlplane.Config) {
		if cfg.ID != "n0" {
			cfg.Raft.HeartbeatTimeout = 20 * time.Second
			cfg.Raft.ElectionTimeout = 20 * time.Second
			cfg.Raft.LeaderLeaseTimeout = 10 * time.Second
		}
	})
	if c.Nodes[c.Leader()].ID != "n0" {
		t.Skip("the fast node is not the leader")
	}
	if _, err := c.Client(0).Apply(ctx(t), offerDoc("before", 1), "application/json"); err != nil {
		t.Fatal(err)
	}
	c.Nodes[0].Stop()
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		for i := 1; i < 3; i++ {
			if c.Store(i).IsLeader() {
				if _, err := c.Client(i).Apply(ctx(t), offerDoc("after", 2), "application/json"); err != nil {
					t.Fatalf("write on the new leader: %v", err)
				}
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no leader after a graceful stop: leadership was not transferred")
}
