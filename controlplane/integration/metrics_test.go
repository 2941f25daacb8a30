package integration

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/controlplane/cptest"
)

// What an operator scrapes from each node: its Raft state, its last
// contact with the leader, the voters, its disk, the agents it sees.
func TestMetrics_RaftStateDiskAndAgents(t *testing.T) {
	c := cptest.New(t, 3)
	scrape := func(i int) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, c.Nodes[i].URL()+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+c.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("metrics of node %d: %d %s", i, resp.StatusCode, b)
		}
		return string(b)
	}
	common := []string{
		"touchpoint_controlplane_raft_voters 3",
		"touchpoint_controlplane_disk_free_bytes ",
		"touchpoint_controlplane_disk_low 0",
		`touchpoint_controlplane_agents{status="alive"} 0`,
		`touchpoint_controlplane_raft_state{state="candidate"} 0`,
	}
	leader := scrape(c.Leader())
	for _, want := range append(common, `touchpoint_controlplane_raft_state{state="leader"} 1`, "touchpoint_controlplane_raft_last_contact_seconds 0") {
		if !strings.Contains(leader, want) {
			t.Errorf("the leader's metrics lack %q", want)
		}
	}
	follower := scrape(c.Follower())
	for _, want := range append(common, `touchpoint_controlplane_raft_state{state="follower"} 1`, "touchpoint_controlplane_raft_last_contact_seconds ") {
		if !strings.Contains(follower, want) {
			t.Errorf("a follower's metrics lack %q", want)
		}
	}
}
