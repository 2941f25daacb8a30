package diskspace

import (
	"errors"
	"testing"
	"time"
)

// fakeDisk is a test double for the file system's free-space count.
type fakeDisk struct {
	free  uint64
	err   error
	reads int
}

func (d *fakeDisk) Free(string) (uint64, error) { d.reads++; return d.free, d.err }

func TestGuard_RefusesBelowFloorAndRereadsAfterEvery(t *testing.T) {
	disk := &fakeDisk{free: 300 << 20}
	now := time.Unix(1000, 0)
	g := New(Config{Dir: "/data", Floor: 256 << 20, Every: time.Second, Now: func() time.Time { return now }, Free: disk.Free})
	if err := g.Check(); err != nil {
		t.Fatalf("300 MB free, floor 256 MB: %v", err)
	}
	disk.free = 100 << 20
	if err := g.Check(); err != nil {
		t.Fatalf("within Every the reading is reused, got %v", err)
	}
	if disk.reads != 1 {
		t.Fatalf("reads = %d, want 1", disk.reads)
	}
	now = now.Add(time.Second)
	err := g.Check()
	var low *LowError
	if !errors.As(err, &low) || !errors.Is(err, ErrLow) {
		t.Fatalf("100 MB free after Every: got %v, want a LowError", err)
	}
	if low.Free != 100<<20 || low.Floor != 256<<20 || low.Dir != "/data" {
		t.Fatalf("LowError = %+v", low)
	}
	if want := "the file system of /data has 100.0 MB free, less than the 256.0 MB kept free"; err.Error() != want {
		t.Fatalf("message %q, want %q", err.Error(), want)
	}
	disk.free = 257 << 20
	if f, _ := g.Free(); f != 257<<20 {
		t.Fatalf("Free reads now: %d", f)
	}
	if err := g.Check(); err != nil {
		t.Fatalf("space freed: %v", err)
	}
}

func TestGuard_OffUnreadableAndNil(t *testing.T) {
	disk := &fakeDisk{free: 0}
	if err := New(Config{Dir: "/d", Floor: 0, Free: disk.Free}).Check(); err != nil || disk.reads != 0 {
		t.Fatalf("floor 0 is off: err %v, reads %d", err, disk.reads)
	}
	disk.err = errors.New("gone")
	if err := New(Config{Dir: "/d", Floor: 1, Free: disk.Free}).Check(); err != nil {
		t.Fatalf("an unreadable file system lets the write through, got %v", err)
	}
	var g *Guard
	if err := g.Check(); err != nil || g.Floor() != 0 {
		t.Fatalf("nil guard: %v", err)
	}
	if _, err := g.Free(); err == nil {
		t.Fatal("nil guard Free: want an error")
	}
}

func TestStatFree_ReadsThisFileSystem(t *testing.T) {
	free, err := New(Config{Dir: t.TempDir()}).Free()
	if err != nil {
		t.Skipf("free space not readable here: %v", err)
	}
	if free == 0 {
		t.Fatal("statfs says 0 bytes free in the test's temporary directory")
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KB", 3565158: "3.4 MB", 256 << 20: "256.0 MB", 5 << 30: "5.0 GB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
