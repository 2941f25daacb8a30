package integration

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol/api"
)

// With two of three nodes down the survivor answers a write, after waiting
// for a leader, with no_leader and what an operator needs to know: that a
// majority must be up, and that stale reads still work.
func TestQuorumLost_WriteSaysAMajorityIsNeeded(t *testing.T) {
	c := cptest.New(t, 3)
	l := c.Leader()
	survivor := c.Nodes[(l+1)%3]
	for i, n := range c.Nodes {
		if n != survivor {
			c.Nodes[i].Kill()
		}
	}
	req, _ := http.NewRequest(http.MethodPost, survivor.URL()+"/v1/catalog", bytes.NewReader(offerDoc("q", 1)))
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var eb api.ErrorBody
	if resp.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(body, &eb) != nil || eb.Error == nil || eb.Error.Code != api.CodeNoLeader {
		t.Fatalf("a write without a majority: %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{"node " + survivor.ID + " has had no leader", "a majority of the voters", "stale=true"} {
		if !strings.Contains(eb.Error.Message, want) {
			t.Errorf("the no_leader message lacks %q: %s", want, eb.Error.Message)
		}
	}
}
