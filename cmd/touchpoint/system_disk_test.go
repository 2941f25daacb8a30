package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol/api"
)

// A node whose file system fills up refuses writes with
// insufficient_storage and stays up; what it acknowledged survives a kill
// -9; writes resume once the file system has room again. Without the
// floor (--min-free-disk-mb 0) the same import kills the node with SIGBUS
// inside badger's memory-mapped writes (docs/API.md). The node's data
// directory is a tmpfs of 200 MB the test mounts, so it needs root; it
// skips elsewhere.
func TestSystem_FullDiskRefusesWritesKeepsDataAndRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("system test")
	}
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=200m"); err != nil {
		t.Skipf("mount a 200 MB tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })
	elsewhere := t.TempDir() // the log and the CSV are not on the small file system
	addrs := freeAddrs(t, 2)
	logf, err := os.Create(filepath.Join(elsewhere, "n1.log"))
	if err != nil {
		t.Fatal(err)
	}
	n1 := &proc{id: "n1", dir: filepath.Join(mnt, "n1"), raft: addrs[0], http: addrs[1], log: logf}
	c := &sysCluster{t: t, bin: touchpointBinary(t), procs: []*proc{n1}}
	t.Cleanup(c.stopAll)
	// 200 MB less the raft log's first 64 MB segment leaves about 136 MB.
	const floor = "100"
	c.bootstrap(n1, "--min-free-disk-mb", floor)
	c.waitStatus(1, "")

	csv := filepath.Join(elsewhere, "customers.csv")
	writeBulkyCustomers(t, csv, 200_000)
	imp := exec.Command(c.bin, "--addr", "http://"+n1.http, "--token", c.token, "customers", "import", csv, "--id-column", "customerID")
	imp.Env = append(os.Environ(), "TOUCHPOINT_LANG=en")
	out, err := imp.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "error: insufficient_storage: node n1: the file system of "+n1.dir) {
		t.Fatalf("import onto a filling disk: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`rows committed before the error: at least (\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("the import did not say what it committed:\n%s", out)
	}
	committed, _ := strconv.Atoi(string(m[1]))
	if n1.cmd.ProcessState != nil {
		t.Fatalf("the node exited: %v", n1.cmd.ProcessState)
	}
	self, err := c.client(n1).Self(context.Background())
	if err != nil || self.Disk == nil || !self.Disk.Low {
		t.Fatalf("the node's status with its disk low: %+v, %v", self, err)
	}

	// What was acknowledged survives a crash, and the restarted node
	// serves it although its disk is still low.
	c.kill9(n1)
	c.start(n1, "--min-free-disk-mb", floor)
	c.waitStatus(1, "")
	if got := countCustomers(t, c.client(n1)); got < committed {
		t.Fatalf("after kill -9 the node holds %d customers; the import had %d committed", got, committed)
	}

	// Room again: writes resume without a restart.
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", syscall.MS_REMOUNT, "size=400m"); err != nil {
		t.Fatalf("grow the tmpfs: %v", err)
	}
	doc := []byte(`{"kind":"Offer","id":"after-the-disk","category":"upsell","value":1,"cost":0}`)
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := c.client(n1).Apply(context.Background(), doc, "application/json")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a write once the disk has room: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeBulkyCustomers writes n customers whose notes make each profile
// about 300 bytes.
func writeBulkyCustomers(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "customerID,name,phone,tenureMonths,voiceMinutes,dataMB,sms,region,notes")
	notes := strings.Repeat("x", 200)
	for i := range n {
		fmt.Fprintf(w, "D%d,Name %d,138%08d,%d,%d,%d,%d,r%d,%s\n", i, i, i, i%72, i%900, i%20000, i%100, i%5, notes)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// countCustomers pages through the profiles of writeBulkyCustomers'
// regions.
func countCustomers(t *testing.T, cl *api.Client) int {
	t.Helper()
	n := 0
	for r := range 5 {
		after := ""
		for {
			page, err := cl.Customers(context.Background(), fmt.Sprintf("r%d", r), after, 1000)
			if err != nil {
				t.Fatal(err)
			}
			n += len(page.Customers)
			if page.Next == "" {
				break
			}
			after = page.Next
		}
	}
	return n
}
