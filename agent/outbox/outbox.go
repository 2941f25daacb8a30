// Package outbox is the agent's durable FIFO of contact events, kept in
// badger. Append numbers each event with the agent's next sequence (gap-free,
// strictly increasing, across restarts) and returns only after the event is
// fsynced, so the agent may answer the kiosk; concurrent Appends share one
// commit and one sync (group commit). The link reads Pending batches, sends
// them to the control plane and calls Ack with the sequence the control plane
// committed; Ack deletes only through that sequence. The last assigned and the
// highest acknowledged sequence are stored in the same badger transaction as
// the events they describe, so the numbering survives even an empty outbox.
// The backlog is bounded: when it is full Append fails with ErrFull and
// nothing already stored is dropped.
//
// See DESIGN.md beside this file.
package outbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"touchpoint.dev/touchpoint/protocol/diskspace"
)

// Errors callers branch on.
var (
	// ErrFull means the backlog of unacknowledged events has reached
	// Config.MaxBytes. The event was not stored and took no sequence.
	ErrFull = errors.New("outbox full")
	// ErrClosed means the outbox was closed. An Append that gets it was not
	// acknowledged (it may or may not have been stored).
	ErrClosed = errors.New("outbox closed")
)

// Key layout (all integers big-endian, so byte order is numeric order):
//
//	e/<seq uint64>  an event in protocol's binary form, sequence 0 (JSON in earlier versions, still read)
//	m/agent         the agent id the sequences belong to
//	m/last          the last assigned sequence (written with the events)
//	m/acked         the highest acknowledged sequence (written with the deletes)
//	m/unanchored    present while a new outbox of an enrolled agent has not
//	                learnt the cluster's sequence yet (skip.go)
//	i/<key>         an idempotency key's sequence and request digest, 24 h (idempotency.go)
var (
	prefixEvent = []byte("e/")
	keyAgent    = []byte("m/agent")
	keyLast     = []byte("m/last")
	keyAcked    = []byte("m/acked")
	// keyUnanchored: see SkipPast.
	keyUnanchored = []byte("m/unanchored")
)

const eventKeyLen = 2 + 8

func eventKey(seq uint64) []byte {
	k := make([]byte, eventKeyLen)
	copy(k, prefixEvent)
	binary.BigEndian.PutUint64(k[2:], seq)
	return k
}

func seqOfKey(k []byte) (uint64, bool) {
	if len(k) != eventKeyLen || !bytes.HasPrefix(k, prefixEvent) {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[2:]), true
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// Config configures an outbox.
type Config struct {
	// Dir is the badger directory.
	Dir string
	// AgentID is stamped on every event. An outbox is bound to the agent id
	// it was created with; opening it with another id fails.
	AgentID string
	// MaxBytes bounds the pending (unacknowledged) events, counted as the
	// bytes of their keys and encoded values. When an event does not fit,
	// Append fails with ErrFull; old events are never dropped. Default 256 MiB.
	MaxBytes int64
	Logger   *slog.Logger
	// Now stamps events that have no time. Default time.Now.
	Now func() time.Time
	// GroupWindow caps how long a group of concurrent appends waits after
	// the last sync to gather more: it waits as long as that sync took,
	// at most GroupWindow, so a disk slowed by other writers sees fewer,
	// larger syncs. A lone append never waits. Default 2ms; a negative
	// value turns it off.
	GroupWindow time.Duration
	// Disk, if set, refuses appends while the file system is low on free
	// space (they fail with a diskspace.LowError): badger would crash on
	// a full disk. Acknowledgements, which free space, go on.
	Disk *diskspace.Guard
	// EncryptionKey, if set, encrypts the badger files at rest (AES, 16, 24
	// or 32 bytes). The same key is needed to reopen the outbox.
	EncryptionKey []byte
	// Enrolled says the agent was enrolled before this outbox was opened:
	// if the outbox is new, it replaces one that was lost, and the
	// cluster may already hold events with the numbers it is about to
	// assign. It stays unanchored until SkipPast renumbers its events
	// after the cluster's sequence.
	Enrolled bool
}

func (c *Config) setDefaults() {
	if c.MaxBytes <= 0 {
		c.MaxBytes = 256 << 20
	}
	if c.GroupWindow == 0 {
		c.GroupWindow = 2 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Stats describes the outbox.
type Stats struct {
	// NextSeq is the sequence the next accepted event will get.
	NextSeq uint64
	// Acked is the highest acknowledged sequence.
	Acked uint64
	// Backlog is the number of events stored and not acknowledged.
	Backlog uint64
	// BacklogBytes is their size as counted against MaxBytes.
	BacklogBytes int64
	// Full is true while Append refuses events for lack of space.
	Full bool
	// Unanchored is true while a new outbox of an enrolled agent waits to
	// learn the cluster's sequence (SkipPast).
	Unanchored bool
}

// Outbox is a durable FIFO of contact events. Its methods are safe for
// concurrent use.
type Outbox struct {
	cfg Config
	log *slog.Logger
	db  *badger.DB

	// sync makes committed writes durable; tests replace it.
	sync func() error

	// mu guards the counters below. last only moves after the events up to
	// it are committed and synced: Pending never shows an event that a
	// crash could still take back (and whose sequence would be reused).
	mu    sync.Mutex
	last  uint64 // last durable assigned sequence
	acked uint64 // highest acknowledged sequence
	bytes int64  // key+value bytes of events in (acked, last]
	full  bool   // the last Append that did not fit was refused, no Ack since
	// unanchored: a new outbox of an enrolled agent, until SkipPast.
	unanchored bool
	failure    error // a sync failed: durability is unknown, refuse appends
	// appended is closed (and replaced) when a group commit makes events
	// visible to Pending; see Appended.
	appended chan struct{}

	// closeMu is held shared by Pending and Ack while they use db, and
	// exclusively by Close.
	closeMu sync.RWMutex
	closed  bool
	ackMu   sync.Mutex // serializes Acks
	// commitMu is held by the committer while it commits a group, and by
	// SkipPast while it renumbers.
	commitMu sync.Mutex

	lastSync    time.Time     // when the committer's last sync ended (its own)
	lastSyncDur time.Duration // how long it took

	reqs    chan *appendReq
	closing chan struct{} // closed by Close: the committer stops
	stopped chan struct{} // closed by the committer when it has stopped
}

// Open opens (or creates) the outbox in cfg.Dir and starts its committer.
func Open(cfg Config) (*Outbox, error) {
	cfg.setDefaults()
	if cfg.Dir == "" {
		return nil, errors.New("open outbox: Dir is required")
	}
	if cfg.AgentID == "" {
		return nil, errors.New("open outbox: AgentID is required")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create outbox dir %s: %w", cfg.Dir, err)
	}
	o := &Outbox{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "outbox"),
		reqs:     make(chan *appendReq, 1024),
		closing:  make(chan struct{}),
		stopped:  make(chan struct{}),
		appended: make(chan struct{}),
	}
	opts := badger.DefaultOptions(cfg.Dir).
		WithLogger(badgerLogger{o.log}).
		// Not synced per commit: the committer calls db.Sync once per
		// group of appends before it answers any of them.
		WithSyncWrites(false).
		// An edge box: small tables and log files.
		WithMemTableSize(16 << 20).
		WithValueLogFileSize(64 << 20).
		WithNumMemtables(3).
		WithBlockCacheSize(8 << 20).
		WithNumVersionsToKeep(1).
		// One committer writes events, Ack deletes disjoint keys: conflict
		// tracking would cost every write for nothing.
		WithDetectConflicts(false)
	if len(cfg.EncryptionKey) > 0 {
		// Badger refuses encryption without a block index cache.
		opts = opts.WithEncryptionKey(cfg.EncryptionKey).WithIndexCacheSize(8 << 20)
	}
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open outbox %s: %w", cfg.Dir, err)
	}
	o.db = db
	o.sync = db.Sync
	if err := o.load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open outbox %s: %w", cfg.Dir, err)
	}
	o.log.Info("outbox opened", "next_seq", o.last+1, "acked", o.acked,
		"backlog", o.last-o.acked, "backlog_bytes", o.bytes)
	go o.commitLoop()
	return o, nil
}

// load reads the counters, binds the outbox to the agent id and checks that
// the stored events are exactly (acked, last].
func (o *Outbox) load() error {
	err := o.db.Update(func(tx *badger.Txn) error {
		agent, err := getValue(tx, keyAgent)
		if err != nil {
			return err
		}
		switch {
		case agent == nil:
			if err := tx.Set(keyAgent, []byte(o.cfg.AgentID)); err != nil {
				return err
			}
			if o.cfg.Enrolled {
				// The agent had an outbox before (it is enrolled): this
				// one replaces it, and its numbers mean nothing until the
				// cluster says where the agent's events stand.
				if err := tx.Set(keyUnanchored, []byte{1}); err != nil {
					return err
				}
			}
		case string(agent) != o.cfg.AgentID:
			return fmt.Errorf("outbox belongs to agent %q, not %q", agent, o.cfg.AgentID)
		}
		if o.last, err = getUint64(tx, keyLast); err != nil {
			return err
		}
		if o.acked, err = getUint64(tx, keyAcked); err != nil {
			return err
		}
		if v, err := getValue(tx, keyUnanchored); err != nil {
			return err
		} else if v != nil || (agent == nil && o.cfg.Enrolled) {
			o.unanchored = true
		}
		if o.acked > o.last {
			return fmt.Errorf("acked sequence %d is above the last assigned %d", o.acked, o.last)
		}
		it := tx.NewIterator(badger.IteratorOptions{Prefix: prefixEvent})
		defer it.Close()
		want := o.acked + 1
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			seq, ok := seqOfKey(item.Key())
			if !ok {
				return fmt.Errorf("malformed event key %x", item.Key())
			}
			if seq != want || seq > o.last {
				return fmt.Errorf("event %d stored where %d was expected (acked %d, last %d)", seq, want, o.acked, o.last)
			}
			o.bytes += int64(len(item.Key())) + item.ValueSize()
			want++
		}
		if want != o.last+1 {
			return fmt.Errorf("events end at %d, last assigned is %d", want-1, o.last)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	if err := o.db.Sync(); err != nil {
		return fmt.Errorf("sync state: %w", err)
	}
	return nil
}

func getValue(tx *badger.Txn, key []byte) ([]byte, error) {
	item, err := tx.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return item.ValueCopy(nil)
}

func getUint64(tx *badger.Txn, key []byte) (uint64, error) {
	v, err := getValue(tx, key)
	if err != nil || v == nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%s is %d bytes, not 8", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// Stats returns the counters.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return Stats{
		NextSeq:      o.last + 1,
		Acked:        o.acked,
		Backlog:      o.last - o.acked,
		BacklogBytes: o.bytes,
		Full:         o.full || o.bytes >= o.cfg.MaxBytes,
		Unanchored:   o.unanchored,
	}
}

// Appended returns a channel that is closed once events appended after the
// call are visible to Pending (after their group commit and sync). Take the
// channel before calling Pending, so that an append between the two is not
// missed:
//
//	ch := o.Appended()
//	evs, _ := o.Pending(after, max)
//	if len(evs) == 0 {
//		<-ch // or a timer, or ctx.Done()
//	}
//
// Every call after a commit returns a new channel.
func (o *Outbox) Appended() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.appended
}

// Close stops the committer and closes the database. Appends still queued
// fail with ErrClosed. Close is idempotent.
func (o *Outbox) Close() error {
	o.closeMu.Lock()
	defer o.closeMu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	close(o.closing)
	<-o.stopped
	if err := o.db.Close(); err != nil {
		return fmt.Errorf("close outbox %s: %w", o.cfg.Dir, err)
	}
	return nil
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
