package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane"
	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol/api"
)

// A leader cut off from its peers keeps believing it leads until its lease
// runs out. Here its lease is long (3 s) while the others elect a new
// leader in a fraction of that and commit a newer value. A default
// (leader-verified) read on the deposed leader must never return the old
// value: it either reflects the new write or fails with a clear code.
func TestPitfall_DeposedLeaderServesNoStaleRead(t *testing.T) {
	c := cptest.New(t, 3, func(cfg *controlplane.Config) {
		if cfg.ID == "n0" {
			cfg.Raft.HeartbeatTimeout = 3 * time.Second
			cfg.Raft.ElectionTimeout = 3 * time.Second
			cfg.Raft.LeaderLeaseTimeout = 3 * time.Second
		}
	})
	if l := c.Leader(); c.Nodes[l].ID != "n0" {
		t.Skipf("leader is %s, not the long-lease node", c.Nodes[l].ID)
	}
	old := c.Nodes[0]
	if _, err := c.Client(0).Apply(ctx(t), offerDoc("k", 1), "application/json"); err != nil {
		t.Fatal(err)
	}
	// A read before the partition: the leader is ready for reads.
	if _, err := c.Client(0).Get(ctx(t), "offers", "k", false); err != nil {
		t.Fatal(err)
	}
	c.WaitApplied(c.Store(0).FSM().Applied())

	old.Net.Partition()
	partitioned := time.Now()
	var nl int
	deadline := time.Now().Add(10 * time.Second)
	for nl = -1; nl < 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for i := 1; i < 3; i++ {
			if c.Store(i).IsLeader() {
				nl = i
			}
		}
	}
	if nl < 0 {
		t.Fatal("no new leader among the connected nodes")
	}
	if _, err := c.Client(nl).Apply(ctx(t), offerDoc("k", 2), "application/json"); err != nil {
		t.Fatal(err)
	}
	if !c.Store(0).IsLeader() || time.Since(partitioned) > 2500*time.Millisecond {
		t.Skip("the old leader stepped down before the read could race it")
	}

	req, _ := http.NewRequest(http.MethodGet, old.URL()+"/v1/catalog/offers/k", nil)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	switch resp.StatusCode {
	case http.StatusOK:
		if !strings.Contains(string(body), `"value":2`) {
			t.Fatalf("deposed leader served a stale read: %s", body)
		}
	default:
		var eb api.ErrorBody
		if json.Unmarshal(body, &eb) != nil || eb.Error == nil || eb.Error.Code != api.CodeNoLeader {
			t.Fatalf("deposed leader answered %d %s; want the new value or no_leader", resp.StatusCode, body)
		}
	}
	old.Net.Heal()
}
