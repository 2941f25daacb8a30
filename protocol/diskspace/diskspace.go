// Package diskspace keeps a daemon from filling the file system under its
// data directory. Badger writes its memtables, value logs and tables
// through memory maps of files it sizes up front; when the file system is
// full, a store into such a map raises SIGBUS and kills the process instead
// of returning an error. A Guard reads the free space before a write is
// accepted, so that a disk running full becomes a refusal with a clear
// error while what is already stored stays readable.
//
// The control plane and the agent both use it, so it lives beside the
// protocol's other shared pieces; it imports only the standard library.
package diskspace

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrLow is what a LowError matches with errors.Is.
var ErrLow = errors.New("disk space low")

// LowError says the file system under Dir has less than Floor bytes free.
type LowError struct {
	Dir   string
	Free  uint64
	Floor uint64
}

func (e *LowError) Error() string {
	return fmt.Sprintf("the file system of %s has %s free, less than the %s kept free", e.Dir, Bytes(e.Free), Bytes(e.Floor))
}

// Is makes errors.Is(err, ErrLow) true.
func (e *LowError) Is(target error) bool { return target == ErrLow }

// DefaultEvery is Config.Every's default.
const DefaultEvery = 100 * time.Millisecond

// Config configures a Guard.
type Config struct {
	// Dir is the data directory (any path on the file system to watch).
	Dir string
	// Floor is the free space to keep, in bytes. Zero turns the guard off:
	// Check always passes.
	Floor uint64
	// Every is how long a reading of the free space is reused (default
	// DefaultEvery). Free space falls only as fast as writes land, and the
	// floor leaves room for what lands between two readings.
	Every time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Free reads the bytes available in dir. Default: the file system's
	// count of blocks available to unprivileged users (statfs), so the
	// blocks a file system reserves for root are never counted on.
	Free func(dir string) (uint64, error)
}

// Guard answers "may a write go ahead?" for one directory's file system.
// A nil *Guard lets every write through. It is safe for concurrent use.
type Guard struct {
	cfg Config

	mu   sync.Mutex
	at   time.Time // when free was read; zero before the first reading
	free uint64
	err  error
}

// New returns a guard over cfg.Dir.
func New(cfg Config) *Guard {
	if cfg.Every <= 0 {
		cfg.Every = DefaultEvery
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Free == nil {
		cfg.Free = statFree
	}
	return &Guard{cfg: cfg}
}

// Check returns a *LowError when the free space is under the floor, nil
// otherwise. When the free space cannot be read, Check lets the write
// through: the write then fails, or not, on its own.
func (g *Guard) Check() error {
	if g == nil || g.cfg.Floor == 0 {
		return nil
	}
	free, err := g.read(false)
	if err != nil || free >= g.cfg.Floor {
		return nil
	}
	return &LowError{Dir: g.cfg.Dir, Free: free, Floor: g.cfg.Floor}
}

// Free reads the free space now (for status pages and metrics).
func (g *Guard) Free() (uint64, error) {
	if g == nil {
		return 0, errors.New("no disk guard")
	}
	return g.read(true)
}

// Floor returns the free space the guard keeps (0: off).
func (g *Guard) Floor() uint64 {
	if g == nil {
		return 0
	}
	return g.cfg.Floor
}

// Status is a data directory's free space against the floor its daemon
// keeps, as status pages report it. While Low, writes are refused.
type Status struct {
	FreeBytes  uint64 `json:"freeBytes"`
	FloorBytes uint64 `json:"floorBytes"`
	Low        bool   `json:"low"`
}

// Status reads the free space now; nil when it cannot be read.
func (g *Guard) Status() *Status {
	free, err := g.Free()
	if err != nil {
		return nil
	}
	return &Status{FreeBytes: free, FloorBytes: g.Floor(), Low: g.Floor() > 0 && free < g.Floor()}
}

// Dir returns the directory the guard watches.
func (g *Guard) Dir() string {
	if g == nil {
		return ""
	}
	return g.cfg.Dir
}

func (g *Guard) read(fresh bool) (uint64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.cfg.Now()
	if fresh || g.at.IsZero() || now.Sub(g.at) >= g.cfg.Every || now.Before(g.at) {
		g.free, g.err = g.cfg.Free(g.cfg.Dir)
		g.at = now
	}
	return g.free, g.err
}

// Bytes formats a byte count for people: 512 B, 3.4 MB, 1.2 GB (powers of
// 1,024, as df -h counts).
func Bytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "KMGTP"[exp])
}
