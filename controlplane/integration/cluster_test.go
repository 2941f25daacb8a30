package integration

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol/api"
)

const retain10 = `kind: Offer
id: retain-10
name: 10% off for 6 months
category: retention
value: 60
cost: 5
channels: [kiosk, ivr]
eligibility: profile.tenureMonths >= 6
`

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestCluster_WriteThroughFollowerReadEverywhere(t *testing.T) {
	c := cptest.New(t, 3)
	f := c.Follower()
	res, err := c.Client(f).Apply(ctx(t), []byte(retain10), "application/yaml")
	if err != nil {
		t.Fatalf("apply through follower: %v", err)
	}
	if len(res.Documents) != 1 || res.Documents[0].Action != "created" {
		t.Fatalf("apply result %+v", res)
	}
	c.WaitApplied(res.Index)
	for i := range c.Nodes {
		o, err := c.Client(i).Get(ctx(t), "offers", "retain-10", true)
		if err != nil {
			t.Fatalf("stale get on node %d: %v", i, err)
		}
		var m map[string]any
		b, _ := json.Marshal(o)
		_ = json.Unmarshal(b, &m)
		if m["id"] != "retain-10" || m["value"] != float64(60) || m["index"] != float64(res.Index) {
			t.Fatalf("node %d returned %s", i, b)
		}
	}
	o, err := c.Client(f).Get(ctx(t), "offers", "retain-10", false)
	if err != nil || o.Index != res.Index {
		t.Fatalf("leader-verified get through follower: %v %+v", err, o)
	}
}

func TestCluster_KilledLeaderLosesNoAcknowledgedWrite(t *testing.T) {
	c := cptest.New(t, 3)
	l := c.Leader()
	var last uint64
	for i := 0; i < 20; i++ {
		doc := `{"kind":"Offer","id":"o` + string(rune('a'+i)) + `","category":"upsell","value":1,"cost":0}`
		res, err := c.Client(l).Apply(ctx(t), []byte(doc), "application/json")
		if err != nil {
			t.Fatal(err)
		}
		last = res.Index
	}
	c.Nodes[l].Kill()
	nl := c.Leader()
	if nl == l {
		t.Fatal("killed node still leader")
	}
	objs, err := c.Client(nl).List(ctx(t), "offers", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 20 {
		t.Fatalf("after leader kill: %d offers, want 20", len(objs))
	}
	c.Restart(c.Nodes[l])
	c.WaitApplied(last)
	objs, err = c.Client(l).List(ctx(t), "offers", true)
	if err != nil || len(objs) != 20 {
		t.Fatalf("restarted node: %d offers, %v", len(objs), err)
	}
	var st *api.ClusterStatus
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st, err = c.Client(l).ClusterStatus(ctx(t))
		if err == nil && st.Leader != "" && allReachable(st) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st == nil || len(st.Nodes) != 3 || !allReachable(st) {
		t.Fatalf("cluster status %+v, %v", st, err)
	}
}

func allReachable(st *api.ClusterStatus) bool {
	for _, n := range st.Nodes {
		if n.State == api.StateUnreachable {
			return false
		}
	}
	return true
}
