package integration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane"
	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// fakeDisks is a test double for each node's file system: the free bytes
// the node's disk guard reads, set by the test.
type fakeDisks map[string]*atomic.Uint64

func (d fakeDisks) option(floor uint64) cptest.Option {
	return func(cfg *controlplane.Config) {
		free := d[cfg.ID]
		cfg.MinFreeDisk = floor
		cfg.DiskFree = func(string) (uint64, error) { return free.Load(), nil }
	}
}

// A node whose disk falls below its floor stops the cluster's writes,
// follower or leader: every node applies every entry, and badger crashes
// on a full disk. The refusal is insufficient_storage and names the node;
// cluster status shows it; an erasure still goes through; what was stored
// stays readable; writes resume once space is freed.
func TestDiskLow_AnyNodeStopsWritesUntilFreed(t *testing.T) {
	const floor = 100 << 20
	disks := fakeDisks{}
	for i := range 3 {
		disks[fmt.Sprintf("n%d", i)] = &atomic.Uint64{}
		disks[fmt.Sprintf("n%d", i)].Store(10 << 30)
	}
	c := cptest.New(t, 3, disks.option(floor))
	ctx := context.Background()
	cl := c.Client(0)
	offer := func(i int) []byte {
		return fmt.Appendf(nil, `{"kind":"Offer","id":"o%d","category":"upsell","value":1,"cost":0}`, i)
	}
	if _, err := cl.Apply(ctx, offer(0), "application/json"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.UpsertCustomers(ctx, []protocol.Profile{{ID: "C1"}, {ID: "C2"}}); err != nil {
		t.Fatal(err)
	}

	// waitApply applies until the answer is what want accepts.
	waitApply := func(what string, i int, want func(error) bool) error {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			_, err := cl.Apply(ctx, offer(i), "application/json")
			if want(err) {
				return err
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: last answer %v", what, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	refused := func(err error) bool {
		var ae *api.Error
		return errors.As(err, &ae) && ae.Code == api.CodeInsufficientStorage
	}

	// A follower's disk runs low: its gossip tells the leader.
	f := c.Nodes[c.Follower()].ID
	disks[f].Store(50 << 20)
	err := waitApply("follower low", 1, refused)
	if !strings.Contains(err.Error(), "node "+f+" ") {
		t.Fatalf("the refusal does not name the follower %s: %v", f, err)
	}
	var ae *api.Error
	if errors.As(err, &ae); ae.Status != 507 {
		t.Fatalf("served with %d, want 507", ae.Status)
	}
	st, err := cl.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if n.Disk == nil || n.Disk.Low != (n.ID == f) || n.Disk.FloorBytes != floor {
			t.Fatalf("cluster status of %s: disk %+v (low follower %s)", n.ID, n.Disk, f)
		}
	}
	if _, err := cl.Get(ctx, "offers", "o0", false); err != nil {
		t.Fatalf("a read while writes are refused: %v", err)
	}
	if _, err := cl.UpsertCustomers(ctx, []protocol.Profile{{ID: "C3"}}); !refused(err) {
		t.Fatalf("a customer import while a disk is low: %v", err)
	}
	if _, err := cl.EraseCustomer(ctx, "C2"); err != nil {
		t.Fatalf("an erasure while a disk is low: %v", err)
	}

	// Space freed on the follower: writes resume.
	disks[f].Store(10 << 30)
	waitApply("follower freed", 2, func(err error) bool { return err == nil })

	// The leader's own disk: refused at once, naming it.
	l := c.Nodes[c.Leader()].ID
	disks[l].Store(floor - 1)
	err = waitApply("leader low", 3, refused)
	if !strings.Contains(err.Error(), "node "+l+":") {
		t.Fatalf("the refusal does not name the leader %s: %v", l, err)
	}
	disks[l].Store(floor)
	waitApply("leader freed", 3, func(err error) bool { return err == nil })
	if _, err := c.Client(c.Follower()).Get(ctx, "offers", "o3", false); err != nil {
		t.Fatalf("written after the disk recovered: %v", err)
	}
}
