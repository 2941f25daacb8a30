package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"touchpoint.dev/touchpoint/agent/cache"
	"touchpoint.dev/touchpoint/controlplane"
	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol/api"
)

// follow brings an agent's cache up to date from the control plane's change
// feed, the way the agent link will (over QUIC instead of HTTP): changes
// after the index it holds, or a snapshot when the feed says so.
func follow(t *testing.T, cl *api.Client, c *cache.Cache) (snapshots int) {
	t.Helper()
	for i := 0; i < 100; i++ {
		pos := c.Position()
		feed, err := cl.Changes(context.Background(), pos.Index, 0)
		if err != nil {
			t.Fatal(err)
		}
		next := cache.Position{ClusterID: feed.ClusterID, Epoch: feed.Epoch, Index: feed.Index}
		if feed.Snapshot {
			if _, err := c.ApplySnapshot(next, feed.Objects); err != nil {
				t.Fatal(err)
			}
			snapshots++
			continue
		}
		if _, err := c.ApplyChanges(next, feed.Changes); errors.Is(err, cache.ErrOtherCluster) {
			// Ask from zero: the control plane answers with a snapshot.
			feed, err = cl.Changes(context.Background(), 1<<62, 0)
			if err != nil || !feed.Snapshot {
				t.Fatalf("resync: %v %+v", err, feed)
			}
			if _, err := c.ApplySnapshot(cache.Position{ClusterID: feed.ClusterID, Epoch: feed.Epoch, Index: feed.Index}, feed.Objects); err != nil {
				t.Fatal(err)
			}
			snapshots++
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		if len(feed.Changes) == 0 {
			return snapshots
		}
	}
	t.Fatal("feed did not settle")
	return 0
}

func offerIDs(t *testing.T, c *cache.Cache) []string {
	t.Helper()
	objs, err := c.List("Offer")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range objs {
		ids = append(ids, o.ID)
	}
	return ids
}

func TestFeed_AgentCacheFollowsControlPlane(t *testing.T) {
	cp := cptest.New(t, 3, func(cfg *controlplane.Config) { cfg.Raft.FSM.ChangeRetention = 50 })
	cl := cp.Client(cp.Follower())
	c, err := cache.Open(cache.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	apply := func(doc string) {
		t.Helper()
		if _, err := cl.Apply(context.Background(), []byte(doc), "application/json"); err != nil {
			t.Fatal(err)
		}
	}
	apply(`{"kind":"Offer","id":"a","category":"care","value":1,"cost":0}`)
	apply(`{"kind":"Offer","id":"b","category":"care","value":1,"cost":0}`)
	follow(t, cl, c)
	if ids := offerIDs(t, c); fmt.Sprint(ids) != "[a b]" {
		t.Fatalf("after first follow: %v", ids)
	}
	// Offline while three changes land, then catch up with exactly those.
	before := c.Position().Index
	apply(`{"kind":"Offer","id":"c","category":"care","value":1,"cost":0}`)
	if _, err := cl.Delete(context.Background(), "offers", "a"); err != nil {
		t.Fatal(err)
	}
	apply(`{"kind":"Offer","id":"b","category":"care","value":2,"cost":0}`)
	feed, err := cl.Changes(context.Background(), before, 0)
	if err != nil || feed.Snapshot || len(feed.Changes) != 3 {
		t.Fatalf("changes after %d: %v %+v", before, err, feed)
	}
	if snaps := follow(t, cl, c); snaps != 0 {
		t.Fatalf("caught up by %d snapshots, want by changes", snaps)
	}
	if ids := offerIDs(t, c); fmt.Sprint(ids) != "[b c]" {
		t.Fatalf("after catching up: %v", ids)
	}

	// Far behind (the feed keeps 50 indexes here; prunes every 1024): a
	// snapshot brings the copy back.
	stale, err := cache.Open(cache.Config{Dir: filepath.Join(t.TempDir(), "stale")})
	if err != nil {
		t.Fatal(err)
	}
	defer stale.Close()
	for i := 0; i < 1100; i += 100 {
		var docs []byte
		docs = append(docs, '[')
		for j := 0; j < 100; j++ {
			if j > 0 {
				docs = append(docs, ',')
			}
			docs = append(docs, fmt.Sprintf(`{"kind":"Plan","id":"p%d","monthlyFee":%d}`, i+j, i+j)...)
		}
		docs = append(docs, ']')
		for k := 0; k < 100; k++ { // many entries, to pass a prune point
			apply(fmt.Sprintf(`{"kind":"Offer","id":"n%d","category":"care","value":%d,"cost":0}`, i/100, k))
		}
		apply(string(docs))
	}
	if snaps := follow(t, cl, stale); snaps == 0 {
		t.Fatal("a cache far behind the feed caught up without a snapshot")
	}
	follow(t, cl, c)
	got, _ := stale.List("Plan")
	want, _ := c.List("Plan")
	if len(got) != 1100 || len(want) != len(got) {
		t.Fatalf("stale cache has %d plans, following cache %d", len(got), len(want))
	}
}
