package cache_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"touchpoint.dev/touchpoint/agent/cache"
	"touchpoint.dev/touchpoint/protocol/api"
)

func open(t *testing.T, dir string) *cache.Cache {
	t.Helper()
	c, err := cache.Open(cache.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func put(idx uint64, id string, value int) api.Change {
	doc := fmt.Sprintf(`{"kind":"Offer","id":%q,"category":"upsell","value":%d,"cost":0}`, id, value)
	return api.Change{Index: idx, Op: api.OpPut, Kind: "Offer", ID: id, Doc: json.RawMessage(doc)}
}

func value(t *testing.T, c *cache.Cache, id string) int {
	t.Helper()
	o, ok, err := c.Get("Offer", id)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return -1
	}
	var v struct{ Value int }
	_ = json.Unmarshal(o.Doc, &v)
	return v.Value
}

var cl = cache.Position{ClusterID: "tp-1", Epoch: 1}

func at(idx uint64) cache.Position { p := cl; p.Index = idx; return p }

func TestCache_FollowsChangesAndNeverGoesBack(t *testing.T) {
	c := open(t, t.TempDir())
	if n, err := c.ApplyChanges(at(5), []api.Change{put(4, "a", 1), put(5, "b", 2)}); err != nil || n != 2 {
		t.Fatalf("first page: %d %v", n, err)
	}
	// A stale node replays older changes and an older page: nothing moves.
	if n, err := c.ApplyChanges(at(4), []api.Change{put(4, "a", 99)}); err != nil || n != 0 {
		t.Fatalf("older page: %d %v", n, err)
	}
	// A page overlapping what is held applies only the new part.
	if n, err := c.ApplyChanges(at(7), []api.Change{put(5, "b", 98), put(6, "a", 3), {Index: 7, Op: api.OpDelete, Kind: "Offer", ID: "b"}}); err != nil || n != 2 {
		t.Fatalf("overlapping page: %d %v", n, err)
	}
	if value(t, c, "a") != 3 || value(t, c, "b") != -1 || c.Position().Index != 7 {
		t.Fatalf("a=%d b=%d pos=%v", value(t, c, "a"), value(t, c, "b"), c.Position())
	}
	// Older snapshot of the same cluster and epoch: refused.
	if ok, err := c.ApplySnapshot(at(6), nil); err != nil || ok {
		t.Fatalf("older snapshot installed: %v %v", ok, err)
	}
	if value(t, c, "a") != 3 {
		t.Fatal("an older snapshot changed the copy")
	}
}

func TestCache_OtherClusterOrEpochNeedsASnapshot(t *testing.T) {
	c := open(t, t.TempDir())
	if _, err := c.ApplyChanges(at(10), []api.Change{put(10, "a", 1)}); err != nil {
		t.Fatal(err)
	}
	restored := cache.Position{ClusterID: "tp-1", Epoch: 2, Index: 3}
	if _, err := c.ApplyChanges(restored, []api.Change{put(3, "a", 2)}); !errors.Is(err, cache.ErrOtherCluster) {
		t.Fatalf("changes of a restored cluster: %v", err)
	}
	// Its snapshot is installed although its index is lower: the epoch
	// says the cluster was restored, not that this is a stale node.
	ok, err := c.ApplySnapshot(restored, []api.Object{{Kind: "Offer", ID: "z", Index: 2, Doc: json.RawMessage(`{"kind":"Offer","id":"z","value":7}`)}})
	if err != nil || !ok {
		t.Fatalf("restored cluster's snapshot: %v %v", ok, err)
	}
	if value(t, c, "a") != -1 || value(t, c, "z") != 7 || c.Position() != restored {
		t.Fatalf("after snapshot: a=%d z=%d pos=%v", value(t, c, "a"), value(t, c, "z"), c.Position())
	}
	objs, _ := c.List("Offer")
	if len(objs) != 1 {
		t.Fatalf("old generation still visible: %+v", objs)
	}
}

// After following a restored cluster into epoch 2, the agent refuses a stale
// node that still serves epoch 1, whatever index it claims: its snapshot
// and its changes would take the copy back.
func TestCache_RefusesAnOlderEpochOfTheSameCluster(t *testing.T) {
	c := open(t, t.TempDir())
	epoch2 := cache.Position{ClusterID: "tp-1", Epoch: 2, Index: 5}
	if ok, err := c.ApplySnapshot(epoch2, []api.Object{{Kind: "Offer", ID: "new", Index: 5, Doc: json.RawMessage(`{"value":2}`)}}); err != nil || !ok {
		t.Fatalf("epoch 2 snapshot: %v %v", ok, err)
	}
	stale := cache.Position{ClusterID: "tp-1", Epoch: 1, Index: 500}
	ok, err := c.ApplySnapshot(stale, []api.Object{{Kind: "Offer", ID: "old", Index: 400, Doc: json.RawMessage(`{"value":1}`)}})
	if !errors.Is(err, cache.ErrStaleEpoch) || ok {
		t.Fatalf("stale epoch snapshot: installed %v, err %v", ok, err)
	}
	if n, err := c.ApplyChanges(stale, []api.Change{put(500, "old", 1)}); !errors.Is(err, cache.ErrStaleEpoch) || n != 0 {
		t.Fatalf("stale epoch changes: %d %v", n, err)
	}
	if c.Position() != epoch2 || value(t, c, "new") != 2 || value(t, c, "old") != -1 {
		t.Fatalf("copy moved: pos %v new=%d old=%d", c.Position(), value(t, c, "new"), value(t, c, "old"))
	}
	// Another cluster is still followed (a rebuilt control plane).
	other := cache.Position{ClusterID: "tp-2", Epoch: 1, Index: 1}
	if ok, err := c.ApplySnapshot(other, nil); err != nil || !ok {
		t.Fatalf("other cluster's snapshot: %v %v", ok, err)
	}
}

// A restarted agent serves from its disk, at the position it held.
func TestCache_RestartKeepsCopyAndPosition(t *testing.T) {
	dir := t.TempDir()
	c, err := cache.Open(cache.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if c.Configured() {
		t.Fatal("a new cache says it holds a configuration")
	}
	if _, err := c.ApplySnapshot(at(20), []api.Object{{Kind: "Offer", ID: "s", Index: 20, Doc: json.RawMessage(`{"value":5}`)}}); err != nil {
		t.Fatal(err)
	}
	if !c.Configured() {
		t.Fatal("a cache that installed a snapshot says it holds no configuration")
	}
	if _, err := c.ApplyChanges(at(21), []api.Change{put(21, "t", 6)}); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2 := open(t, dir)
	if c2.Position() != at(21) || !c2.Configured() || value(t, c2, "s") != 5 || value(t, c2, "t") != 6 {
		t.Fatalf("after restart: pos %v s=%d t=%d", c2.Position(), value(t, c2, "s"), value(t, c2, "t"))
	}
}

func TestCache_EncryptedAtRest(t *testing.T) {
	dir := t.TempDir()
	key := []byte("0123456789abcdef0123456789abcdef")
	c, err := cache.Open(cache.Config{Dir: dir, EncryptionKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ApplyChanges(at(1), []api.Change{put(1, "secret-offer", 1)}); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	if _, err := cache.Open(cache.Config{Dir: dir}); err == nil {
		t.Fatal("an encrypted cache opened without its key")
	}
	c2, err := cache.Open(cache.Config{Dir: dir, EncryptionKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if value(t, c2, "secret-offer") != 1 {
		t.Fatal("encrypted copy unreadable with its key")
	}
}
