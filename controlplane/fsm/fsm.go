// Package fsm is the control plane's replicated state machine: the
// catalogue, tokens, the node registry, the change feed and the audit log,
// kept in badger. Every committed Raft entry is applied in one badger
// transaction together with its log index, so a restart neither loses nor
// re-applies entries. Apply is deterministic: it reads no clock and no
// randomness; the proposing leader stamps both into the command.
//
// See DESIGN.md beside this file.
package fsm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Config tunes the state machine. Every node of a cluster must use the same
// retention values: they decide what Apply deletes.
type Config struct {
	// Dir holds the badger state directories and the CURRENT pointer.
	Dir string
	// ChangeRetention is how many log indexes of change feed the FSM keeps;
	// a follower further behind gets a full snapshot. Default 10,000.
	ChangeRetention uint64
	// RequestRetention is how many log indexes request ids are remembered
	// for deduplication. Default 100,000.
	RequestRetention uint64
	// MemTableSize and ValueLogFileSize size badger (bytes); defaults suit
	// a server: 64 MiB (also the minimum) and 256 MiB.
	MemTableSize     int64
	ValueLogFileSize int64
	Logger           *slog.Logger
}

func (c *Config) setDefaults() {
	if c.ChangeRetention == 0 {
		c.ChangeRetention = 10_000
	}
	if c.RequestRetention == 0 {
		c.RequestRetention = 100_000
	}
	// One entry's writes must fit one badger transaction (about 15% of
	// a memtable); 64 MiB is the floor that fits the largest apply.
	if c.MemTableSize < 64<<20 {
		c.MemTableSize = 64 << 20
	}
	if c.ValueLogFileSize == 0 {
		c.ValueLogFileSize = 256 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// FSM implements raft.FSM and raft.BatchingFSM.
type FSM struct {
	cfg Config
	log *slog.Logger

	// mu guards db: readers and snapshots hold it shared; Restore swaps the
	// database under it exclusively.
	mu  sync.RWMutex
	db  *badger.DB
	gen int // number of the state-N directory db lives in

	applied atomic.Uint64
	// lastChange is the index of the newest change-feed record; fleetGen
	// counts applies that changed the fleet (this process only).
	lastChange atomic.Uint64
	fleetGen   atomic.Uint64

	// startup is true while raft restores its latest snapshot inside
	// NewRaft: a snapshot no newer than the state on disk is skipped.
	startup atomic.Bool

	notifyMu sync.Mutex
	notify   chan struct{}

	contacts contactFeed
	capped   cappedOffers // the offers with a volumeCap (volumes.go)
}

// Open opens (or creates) the state in cfg.Dir.
func Open(cfg Config) (*FSM, error) {
	cfg.setDefaults()
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create fsm dir %s: %w", cfg.Dir, err)
	}
	f := &FSM{cfg: cfg, log: cfg.Logger.With("component", "fsm"), notify: make(chan struct{})}
	gen, err := readCurrent(cfg.Dir)
	if err != nil {
		return nil, err
	}
	db, err := f.openDB(gen)
	if err != nil {
		return nil, err
	}
	f.db, f.gen = db, gen
	if err := removeOtherGenerations(cfg.Dir, gen); err != nil {
		f.log.Warn("remove stale state directories", "error", err)
	}
	idx, err := f.readApplied()
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	f.applied.Store(idx)
	lc, err := f.readLastChange()
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	f.lastChange.Store(lc)
	f.startup.Store(true)
	return f, nil
}

// Started tells the FSM that raft has finished starting: from now on every
// snapshot raft hands it is restored.
func (f *FSM) Started() { f.startup.Store(false) }

// Close closes the database.
func (f *FSM) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.db == nil {
		return nil
	}
	err := f.db.Close()
	f.db = nil
	return err
}

func genDir(dir string, gen int) string { return filepath.Join(dir, "state-"+strconv.Itoa(gen)) }

func (f *FSM) openDB(gen int) (*badger.DB, error) {
	path := genDir(f.cfg.Dir, gen)
	opts := badger.DefaultOptions(path).
		WithLogger(badgerLogger{f.log}).
		// Not synced: the Raft log (fsynced) is the durable record. The
		// applied index commits in the same transaction as the state, so
		// after a crash badger holds a consistent prefix and raft replays
		// the rest.
		WithSyncWrites(false).
		WithMemTableSize(f.cfg.MemTableSize).
		WithValueLogFileSize(f.cfg.ValueLogFileSize).
		WithNumVersionsToKeep(1).
		// Jobs scan every profile and the whole ledger, and three nodes
		// share a small machine: compressing every table a compaction
		// writes and decompressing every block a read touches cost more
		// CPU than the disk they saved (profiles compress about 2.5×).
		// Uncompressed tables are read from the mmap directly, without
		// badger's block cache (and its admission goroutines).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		// Every entry writes keys from a/ (audit) to x/ (changes), so each
		// level-0 table spans nearly the whole key space and each
		// compaction out of level 0 rewrites most of the next level. Ten
		// tables before one (badger's default is five) halves those
		// rewrites under a bulk write such as a segmentation run, and
		// leaves more of them for after it (docs/PERFORMANCE.md).
		WithNumLevelZeroTables(10).
		WithNumLevelZeroTablesStall(20).
		// Raft's apply loop is the only writer: transaction conflict
		// tracking would cost every read and write for nothing.
		WithDetectConflicts(false)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open fsm state %s: %w", path, err)
	}
	return db, nil
}

// readCurrent returns the generation CURRENT points at (1 for a new dir).
func readCurrent(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "CURRENT"))
	if errors.Is(err, os.ErrNotExist) {
		return 1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read fsm CURRENT: %w", err)
	}
	gen, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || gen < 1 {
		return 0, fmt.Errorf("fsm CURRENT holds %q, not a generation number", b)
	}
	return gen, nil
}

// writeCurrent atomically points CURRENT at gen: write a temporary file,
// fsync it, rename it over CURRENT, fsync the directory.
func writeCurrent(dir string, gen int) error {
	tmp := filepath.Join(dir, "CURRENT.tmp")
	fh, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("write fsm CURRENT: %w", err)
	}
	if _, err := fh.WriteString(strconv.Itoa(gen) + "\n"); err != nil {
		fh.Close()
		return fmt.Errorf("write fsm CURRENT: %w", err)
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return fmt.Errorf("sync fsm CURRENT: %w", err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("close fsm CURRENT: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "CURRENT")); err != nil {
		return fmt.Errorf("install fsm CURRENT: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open fsm dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync fsm dir: %w", err)
	}
	return nil
}

func removeOtherGenerations(dir string, keep int) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		n, ok := strings.CutPrefix(e.Name(), "state-")
		if !ok || !e.IsDir() {
			continue
		}
		if g, err := strconv.Atoi(n); err == nil && g != keep {
			errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
		}
	}
	return errors.Join(errs...)
}

func (f *FSM) readApplied() (uint64, error) {
	var idx uint64
	err := f.db.View(func(tx *badger.Txn) error {
		it, err := tx.Get(keyApplied)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("applied index is %d bytes", len(v))
			}
			idx = binary.BigEndian.Uint64(v)
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("read applied index: %w", err)
	}
	return idx, nil
}

// readLastChange finds the newest change-feed record's index.
func (f *FSM) readLastChange() (uint64, error) {
	var idx uint64
	err := f.db.View(func(tx *badger.Txn) error {
		if v, err := txUint64(tx, keyLastChange); err != nil || v > 0 {
			idx = v
			return err
		}
		// State written before the key existed: the feed's newest record.
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Reverse = true
		opts.Prefix = prefixChange
		it := tx.NewIterator(opts)
		defer it.Close()
		it.Seek(append(append([]byte{}, prefixChange...), 0xff))
		if it.Valid() {
			idx = seqIndex(it.Item().Key(), prefixChange)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("read last change: %w", err)
	}
	return idx, nil
}

// LastChange is the index of the newest configuration change (the change
// feed's head): an agent holding it or more is up to date.
func (f *FSM) LastChange() uint64 { return f.lastChange.Load() }

// FleetGeneration moves whenever an applied entry changed the fleet
// (enrollment, revocation, gossip keys); watchers compare it to what they
// last saw. It counts in this process only.
func (f *FSM) FleetGeneration() uint64 { return f.fleetGen.Load() }

// Applied is the index of the last entry applied to the state.
func (f *FSM) Applied() uint64 { return f.applied.Load() }

// Settled reports whether badger has no compaction left to pick (no level
// scores 1 or more): after a bulk write such as a million-profile import,
// compactions take the node's cores for a while. For benchmarks and
// operators' checks.
func (f *FSM) Settled() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		return false
	}
	for _, l := range f.db.Levels() {
		if l.Score >= 1 {
			return false
		}
	}
	return true
}

// Changed returns a channel closed at the next apply.
func (f *FSM) Changed() <-chan struct{} {
	f.notifyMu.Lock()
	defer f.notifyMu.Unlock()
	return f.notify
}

func (f *FSM) broadcast() {
	f.notifyMu.Lock()
	close(f.notify)
	f.notify = make(chan struct{})
	f.notifyMu.Unlock()
}

// WaitApplied blocks until the applied index reaches idx or ctx ends.
func (f *FSM) WaitApplied(ctx context.Context, idx uint64) error {
	for {
		ch := f.Changed()
		if f.applied.Load() >= idx {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for index %d (applied %d): %w", idx, f.applied.Load(), ctx.Err())
		case <-ch:
		}
	}
}

// view runs fn in a read transaction on the current database.
func (f *FSM) view(fn func(tx *badger.Txn) error) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		return errors.New("fsm is closed")
	}
	return f.db.View(fn)
}

type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Infof(string, ...any)  {}
func (b badgerLogger) Debugf(string, ...any) {}
