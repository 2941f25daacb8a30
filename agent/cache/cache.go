// Package cache is the agent's local copy of the control plane's
// configuration (the catalogue, customer profiles and their contact
// history; see profiles.go), kept in
// badger so the agent serves from its own disk — also while cut off from the
// control plane, and right after a restart.
//
// It follows the control plane's change feed and holds three numbers with
// the data: the cluster id, its epoch and the Raft index the copy reflects.
// It never goes back: changes at or below the index it holds are ignored,
// and a snapshot is installed only if it is newer or comes from another
// cluster or a newer epoch (a rebuilt or restored control plane, which the
// agent must follow rather than refuse forever). A snapshot or changes of the
// same cluster from an older epoch come from a stale node and are refused
// with ErrStaleEpoch.
//
// A snapshot is installed without a window in which readers or a crash
// could see half of it: objects are written under a new generation prefix
// and one transaction then switches the generation and the index.
package cache

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/diskspace"
)

// Config configures the cache.
type Config struct {
	Dir string
	// EncryptionKey, if set (16, 24 or 32 bytes), encrypts the store at
	// rest: it holds customer data.
	EncryptionKey []byte
	Logger        *slog.Logger
	// Memory, sized for a kiosk-class box: badger's memtables (MemTableMB
	// each, NumMemtables of them; zero takes DefaultMemory's), its block
	// cache and its index cache. The caches are off by default (0):
	// tables are uncompressed and memory-mapped, so a read needs no block
	// cache, and table indexes and bloom filters for millions of profiles
	// take a few MB of heap. Both caches are ristretto caches whose
	// admission work, on reads at random over a million customers, was
	// the p99 of a decision (docs/PERFORMANCE.md). An encrypted cache
	// needs both caches (blocks and indexes are decrypted into them): it
	// gets DefaultEncryptedBlockCacheMB and DefaultEncryptedIndexCacheMB
	// unless they are set.
	MemTableMB, NumMemtables, BlockCacheMB, IndexCacheMB int
	// Disk, if set, refuses writes while the file system is low on free
	// space (they fail with a diskspace.LowError): badger would crash on a
	// full disk. Reads go on.
	Disk *diskspace.Guard
}

// DefaultMemory are the cache's memory defaults: 2 × 16 MiB memtables, no
// block or index cache.
var DefaultMemory = struct{ MemTableMB, NumMemtables, BlockCacheMB, IndexCacheMB int }{16, 2, 0, 0}

// The store's shape (see Open).
const (
	levelZeroTables = 1
	baseLevelMB     = 64
)

// The caches of an encrypted cache (badger requires both: blocks and
// indexes are decrypted into them).
const (
	DefaultEncryptedBlockCacheMB = 16
	DefaultEncryptedIndexCacheMB = 8
)

// ErrOtherCluster reports changes from another cluster or epoch than the
// copy held: the caller must fetch a snapshot instead.
var ErrOtherCluster = errors.New("changes belong to another cluster or epoch: a snapshot is needed")

// ErrStaleEpoch reports changes or a snapshot of the cluster the copy
// follows, but from an older epoch than the copy holds: the sender is a
// stale node (or an old backup) and the caller should go to another node.
var ErrStaleEpoch = errors.New("configuration from an older epoch of this cluster: the sender is stale")

// Position is what the copy reflects.
type Position struct {
	ClusterID string `json:"clusterId"`
	Epoch     uint64 `json:"epoch"`
	Index     uint64 `json:"index"`
}

// Key layout:
//
//	m/pos                 Position JSON
//	m/gen                 current generation, 8 bytes
//	m/volumes             the offer volumes last known (volumes.go)
//	o/<gen 8><kind>/<id>  stored JSON (kind, id, index and document)
var (
	keyPos    = []byte("m/pos")
	keyGen    = []byte("m/gen")
	prefixObj = []byte("o/")
)

// Cache is the agent's configuration store.
type Cache struct {
	db   *badger.DB
	log  *slog.Logger
	disk *diskspace.Guard // refuses writes while the disk is low

	mu  sync.RWMutex // guards pos, gen and region, and orders writers
	pos Position
	// configured is set once pos names a cluster (Configured), read
	// without the lock by every decision.
	configured atomic.Bool
	gen        uint64
	// region and unregioned say which profiles the change feed brings in
	// (see profiles.go).
	region     string
	unregioned bool
	putMu      sync.Mutex
	histMu     sync.Mutex // orders history rewrites
	// Timestamps (versions.go): wmu orders every commit, last is the
	// timestamp of the last one begun, read what readers read at.
	wmu     sync.Mutex
	last    uint64
	read    atomic.Pointer[readPoint]
	readers readers
	// catalogVersion moves whenever the catalogue (anything but profiles)
	// changes, in this process: the decision engine recompiles then.
	catalogVersion atomic.Uint64
	catalogMu      sync.Mutex
	catalogChanged chan struct{} // closed at the next catalogue change
	// volMu orders SaveVolumes; volSaved is what it saved last.
	volMu    sync.Mutex
	volSaved map[string]int64
	// strs intern what decoded profiles and histories repeat (attribute
	// names, channels, outcomes, offer ids): a decision then allocates only
	// what is the customer's own. Each read takes one table of several
	// (readStrings): with one, every interned string was a lock word
	// bouncing between the cores, thousands a decision over a long history.
	strs     [stringTables]*protocol.Strings
	strsNext atomic.Uint32
	// histStrs is the history merges' own table (histMu held), recorded
	// the contacts they merged last (history.go).
	histStrs *protocol.Strings
	recorded recorded
	merger   merger // history merges' memory (histMu held)
}

// internedStrings bounds each of the cache's string tables.
const (
	internedStrings = 8192
	stringTables    = 4
)

// readStrings picks the string table of one read.
func (c *Cache) readStrings() *protocol.Strings {
	return c.strs[c.strsNext.Add(1)%stringTables]
}

// Open opens (or creates) the cache in cfg.Dir.
func Open(cfg Config) (*Cache, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.MemTableMB, DefaultMemory.MemTableMB)
	def(&cfg.NumMemtables, DefaultMemory.NumMemtables)
	cfg.BlockCacheMB, cfg.IndexCacheMB = max(cfg.BlockCacheMB, 0), max(cfg.IndexCacheMB, 0)
	if len(cfg.EncryptionKey) > 0 {
		cfg.BlockCacheMB = cmp.Or(cfg.BlockCacheMB, DefaultEncryptedBlockCacheMB)
		cfg.IndexCacheMB = cmp.Or(cfg.IndexCacheMB, DefaultEncryptedIndexCacheMB)
	}
	opts := badger.DefaultOptions(cfg.Dir).
		WithLogger(nil).
		WithMemTableSize(int64(cfg.MemTableMB) << 20).
		WithNumMemtables(cfg.NumMemtables).
		WithBlockCacheSize(int64(cfg.BlockCacheMB) << 20).
		WithIndexCacheSize(int64(cfg.IndexCacheMB) << 20).
		WithValueLogFileSize(64 << 20).
		WithDetectConflicts(false).
		// Decisions read profiles at random: a block decompression on
		// every read cost more than the engine; profiles are small.
		WithCompression(options.None).
		// Two compactors (badger's minimum) bound the table builders'
		// buffers after a prefetch of millions of profiles.
		WithNumCompactors(2).
		// A point read looks into every level-0 table and one table of
		// every other level, each a bloom filter and an index search over
		// memory-mapped pages. The store is read far more than written (a
		// prefetch, then contacts), so it is kept shallow: level 0 is
		// compacted at its first table instead of its fifth, and the
		// levels start at 64 MiB instead of 10, which leaves a million
		// profiles in two levels instead of four level-0 tables and three
		// levels. At like memory latency a decision's p99 fell by about
		// a tenth to a fifth; a prefetch of a million took 28-37 s
		// instead of 26 (docs/PERFORMANCE.md).
		WithNumLevelZeroTables(levelZeroTables).
		WithBaseLevelSize(baseLevelMB << 20)
	if len(cfg.EncryptionKey) > 0 {
		opts = opts.WithEncryptionKey(cfg.EncryptionKey)
	}
	// Managed mode: reads do not wait for writers (versions.go). A store
	// written in badger's own mode opens as it is: its versions are
	// timestamps too, and the cache goes on from the highest.
	db, err := badger.OpenManaged(opts)
	if err != nil {
		if errors.Is(err, badger.ErrEncryptionKeyMismatch) {
			if len(cfg.EncryptionKey) == 0 {
				return nil, fmt.Errorf("open agent cache %s: it is encrypted: start the agent with the --encryption-key-file it was created with: %w", cfg.Dir, err)
			}
			return nil, fmt.Errorf("open agent cache %s: it was encrypted with another key than --encryption-key-file gives: %w", cfg.Dir, err)
		}
		return nil, fmt.Errorf("open agent cache %s: %w", cfg.Dir, err)
	}
	c := &Cache{db: db, log: cfg.Logger.With("component", "cache"), disk: cfg.Disk, histStrs: protocol.NewStrings(internedStrings)}
	for i := range c.strs {
		c.strs[i] = protocol.NewStrings(internedStrings)
	}
	c.last = db.MaxVersion()
	db.SetDiscardTs(c.last)
	c.read.Store(&readPoint{ts: c.last})
	err = c.view(func(tx *badger.Txn, _ uint64) error {
		if it, err := tx.Get(keyPos); err == nil {
			if err := it.Value(func(v []byte) error { return json.Unmarshal(v, &c.pos) }); err != nil {
				return err
			}
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if it, err := tx.Get(keyGen); err == nil {
			return it.Value(func(v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("generation is %d bytes", len(v))
				}
				c.gen = binary.BigEndian.Uint64(v)
				return nil
			})
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("read agent cache position: %w", err)
	}
	c.read.Store(&readPoint{ts: c.last, gen: c.gen})
	c.configured.Store(c.pos.ClusterID != "")
	// A crash between writing a new generation and switching to it leaves
	// orphans; drop every generation but the current one.
	if err := c.dropStale(c.gen); err != nil {
		c.log.Warn("drop stale generations", "error", err)
	}
	moveStart := time.Now()
	if n, err := c.migrateHistories(); err != nil {
		db.Close()
		return nil, fmt.Errorf("move contact histories in agent cache %s: %w", cfg.Dir, err)
	} else if n > 0 {
		c.log.Info("moved contact histories next to their profiles", "histories", n, "took", time.Since(moveStart).Round(time.Millisecond))
	}
	return c, nil
}

// Close closes the store.
func (c *Cache) Close() error { return c.db.Close() }

// CatalogVersion moves whenever the catalogue changes (not when only
// profiles do); it starts at 0 in every process.
func (c *Cache) CatalogVersion() uint64 { return c.catalogVersion.Load() }

// CatalogChanged returns a channel closed at the next catalogue change.
func (c *Cache) CatalogChanged() <-chan struct{} {
	c.catalogMu.Lock()
	defer c.catalogMu.Unlock()
	if c.catalogChanged == nil {
		c.catalogChanged = make(chan struct{})
	}
	return c.catalogChanged
}

func (c *Cache) catalogMoved() {
	c.catalogVersion.Add(1)
	c.catalogMu.Lock()
	if c.catalogChanged != nil {
		close(c.catalogChanged)
		c.catalogChanged = nil
	}
	c.catalogMu.Unlock()
}

// Configured reports whether the cache holds a configuration from a
// cluster (a snapshot or changes reached it), without taking a lock.
func (c *Cache) Configured() bool { return c.configured.Load() }

// Position returns what the copy reflects.
func (c *Cache) Position() Position {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.pos
}

// stored is an object at rest. Kind and id are kept beside the document
// rather than read back out of it.
type stored struct {
	Kind  string          `json:"kind"`
	ID    string          `json:"id"`
	Index uint64          `json:"index"`
	Doc   json.RawMessage `json:"doc"`
}

func encode(o api.Object) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep documents as written ("a >= 6")
	if err := enc.Encode(stored{Kind: o.Kind, ID: o.ID, Index: o.Index, Doc: o.Doc}); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func decode(v []byte) (api.Object, error) {
	var st stored
	if err := json.Unmarshal(v, &st); err != nil {
		return api.Object{}, err
	}
	return api.Object{Kind: st.Kind, ID: st.ID, Index: st.Index, Doc: st.Doc}, nil
}

func objKey(gen uint64, kind, id string) []byte {
	k := make([]byte, 0, len(prefixObj)+8+len(kind)+1+len(id))
	k = append(k, prefixObj...)
	k = binary.BigEndian.AppendUint64(k, gen)
	k = append(k, kind...)
	k = append(k, '/')
	return append(k, id...)
}

func genPrefix(gen uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte{}, prefixObj...), gen)
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// ApplyChanges applies a feed page: changes at or below the held index are
// skipped, the rest are applied in order, and the position moves to index —
// all in one transaction. Changes from another cluster or epoch are refused
// with ErrOtherCluster (fetch a snapshot). It reports how many changes it
// applied.
func (c *Cache) ApplyChanges(pos Position, changes []api.Change) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pos.ClusterID != "" && pos.ClusterID == c.pos.ClusterID && pos.Epoch < c.pos.Epoch {
		return 0, ErrStaleEpoch
	}
	if c.pos.ClusterID != "" && (pos.ClusterID != c.pos.ClusterID || pos.Epoch != c.pos.Epoch) {
		return 0, ErrOtherCluster
	}
	if pos.Index <= c.pos.Index {
		return 0, nil // never go back
	}
	applied, catalog, histories := 0, false, false
	defer func() {
		if histories {
			c.recorded.clear() // c.mu held: no merge runs
		}
	}()
	for _, ch := range changes {
		if ch.Index > pos.Index {
			return 0, fmt.Errorf("apply changes through %d: change at index %d beyond the page's index", pos.Index, ch.Index)
		}
	}
	// applyPart applies part in one transaction, and the position with
	// the page's last part.
	applyPart := func(part []api.Change, last bool) (n int, cat, hist bool, err error) {
		err = c.update(c.gen, func(tx *badger.Txn) error {
			n, cat, hist = 0, false, false
			for _, ch := range part {
				if ch.Index <= c.pos.Index {
					continue
				}
				if ch.Kind == KindCustomer {
					// Anything but a put may drop a history (an erasure):
					// the contacts merged so far are no longer known to be in it.
					hist = hist || ch.Op != api.OpPut
					if err := c.applyCustomer(tx, ch); err != nil {
						return err
					}
					n++
					continue
				}
				cat = true
				key := objKey(c.gen, ch.Kind, ch.ID)
				switch ch.Op {
				case api.OpPut:
					b, err := encode(api.Object{Kind: ch.Kind, ID: ch.ID, Index: ch.Index, Doc: ch.Doc})
					if err != nil {
						return err
					}
					if err := tx.Set(key, b); err != nil {
						return err
					}
				case api.OpDelete:
					if err := tx.Delete(key); err != nil {
						return err
					}
				default:
					return fmt.Errorf("change at index %d: unknown op %q", ch.Index, ch.Op)
				}
				n++
			}
			if !last {
				return nil
			}
			pb, _ := json.Marshal(pos)
			return tx.Set(keyPos, pb)
		})
		return n, cat, hist, err
	}
	// A page larger than one badger transaction (an entry of 5,000
	// profiles, or 5,000 derive changes each rewriting a held profile)
	// goes in halves, each whole, the position with the last. A crash
	// between them leaves the position before the page; applying it again
	// is harmless (newer copies win, deletes and derives repeat as no-ops).
	var apply func(part []api.Change, last bool) error
	apply = func(part []api.Change, last bool) error {
		n, cat, hist, err := applyPart(part, last)
		if errors.Is(err, badger.ErrTxnTooBig) && len(part) > 1 {
			h := len(part) / 2
			if err := apply(part[:h], false); err != nil {
				return err
			}
			return apply(part[h:], last)
		}
		if err == nil {
			applied, catalog, histories = applied+n, catalog || cat, histories || hist
		}
		return err
	}
	err := apply(changes, true)
	if err != nil {
		return 0, fmt.Errorf("apply changes through %d: %w", pos.Index, err)
	}
	c.pos = pos
	c.configured.Store(pos.ClusterID != "")
	if catalog {
		c.catalogMoved()
	}
	return applied, nil
}

// ApplySnapshot replaces the whole copy with objects as of pos, unless the
// copy already reflects that cluster and epoch at pos.Index or later. It
// reports whether it installed the snapshot. A snapshot of the same cluster
// from an older epoch is refused with ErrStaleEpoch.
func (c *Cache) ApplySnapshot(pos Position, objects []api.Object) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pos.ClusterID != "" && pos.ClusterID == c.pos.ClusterID && pos.Epoch < c.pos.Epoch {
		return false, ErrStaleEpoch
	}
	if pos.ClusterID == c.pos.ClusterID && pos.Epoch == c.pos.Epoch && pos.Index <= c.pos.Index {
		return false, nil // never go back
	}
	next := c.gen + 1
	err := c.batch(c.gen, func(wb *badger.WriteBatch) error {
		for _, o := range objects {
			b, err := encode(o)
			if err != nil {
				return err
			}
			if err := wb.Set(objKey(next, o.Kind, o.ID), b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = c.dropStale(c.gen)
		return false, fmt.Errorf("install snapshot: %w", err)
	}
	// The switch: generation and position together, and readers take the
	// new generation with the commit that makes it current.
	err = c.update(next, func(tx *badger.Txn) error {
		pb, _ := json.Marshal(pos)
		if err := tx.Set(keyPos, pb); err != nil {
			return err
		}
		return tx.Set(keyGen, u64(next))
	})
	if err != nil {
		_ = c.dropStale(c.gen)
		return false, fmt.Errorf("install snapshot: %w", err)
	}
	c.gen, c.pos = next, pos
	c.configured.Store(pos.ClusterID != "")
	c.catalogMoved()
	// Profiles and their history go with the old generation: the agent
	// was too far behind to know which customers were erased meanwhile.
	if err := c.dropStale(next); err != nil {
		c.log.Warn("drop replaced generation", "error", err)
	}
	return true, nil
}

// dropStale deletes the objects, profiles and contact histories of every
// generation but keep. It forgets which contacts were merged (recorded):
// what was dropped must merge again when it comes back.
func (c *Cache) dropStale(keep uint64) error {
	c.recorded.clear() // c.mu held (or Open's): no merge runs
	var stale [][]byte
	err := c.view(func(tx *badger.Txn, _ uint64) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		it := tx.NewIterator(opts)
		defer it.Close()
		collect := func(prefix, keepPrefix []byte) {
			for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
				if keepPrefix == nil || !bytes.HasPrefix(it.Item().Key(), keepPrefix) {
					stale = append(stale, it.Item().KeyCopy(nil))
				}
			}
		}
		collect(prefixObj, genPrefix(keep))
		collect(prefixProfile, profileGenPrefix(keep)) // and their histories
		return nil
	})
	if err != nil || len(stale) == 0 {
		return err
	}
	return c.batch(c.gen, func(wb *badger.WriteBatch) error {
		for _, k := range stale {
			if err := wb.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// Get returns one object of the copy.
func (c *Cache) Get(kind, id string) (api.Object, bool, error) {
	var o api.Object
	found := false
	// The generation of the read's own timestamp: a snapshot installed
	// meanwhile drops the old one at a later timestamp.
	err := c.view(func(tx *badger.Txn, gen uint64) error {
		it, err := tx.Get(objKey(gen, kind, id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		return it.Value(func(v []byte) error {
			var err error
			o, err = decode(v)
			return err
		})
	})
	return o, found, err
}

// List returns every object of a kind, ordered by id.
func (c *Cache) List(kind string) ([]api.Object, error) {
	out := []api.Object{}
	err := c.view(func(tx *badger.Txn, gen uint64) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = append(genPrefix(gen), kind+"/"...)
		it := tx.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var o api.Object
			if err := it.Item().Value(func(v []byte) error {
				var err error
				o, err = decode(v)
				return err
			}); err != nil {
				return fmt.Errorf("object %s: %w", it.Item().Key()[len(prefixObj)+8:], err)
			}
			out = append(out, o)
		}
		return nil
	})
	return out, err
}

func (p Position) String() string {
	return p.ClusterID + "/" + strconv.FormatUint(p.Epoch, 10) + "@" + strconv.FormatUint(p.Index, 10)
}

// Settled reports whether badger has no compaction left to pick: no level
// scores 1 or more. After a prefetch fills the cache, compactions run for
// a while on the agent's cores; once settled, decisions have them to
// themselves until the next bulk write.
func (c *Cache) Settled() bool {
	for _, l := range c.db.Levels() {
		if l.Score >= 1 {
			return false
		}
	}
	return true
}

// LevelsSummary describes the store's levels ("L0 2 tables 31 MB, …"),
// for logs and benchmarks.
func (c *Cache) LevelsSummary() string {
	var parts []string
	for _, l := range c.db.Levels() {
		if l.NumTables > 0 {
			parts = append(parts, fmt.Sprintf("L%d %d tables %d MB (score %.2f)", l.Level, l.NumTables, l.Size>>20, l.Score))
		}
	}
	return strings.Join(parts, ", ")
}

// keyFlush is the marker Flush writes and drops.
var keyFlush = []byte("m/flush")

// Flush writes the memtable out as a table. After a bulk write (a
// prefetch) the memtable holds up to MemTableMB of profiles in a skiplist
// that every point read walks before it looks at the tables, where the same
// keys cost a bloom filter probe. In CPU profiles of the decision
// benchmark a decision's two reads spent 2.9 µs (of 40) in the skiplist,
// 1.5 µs after a flush (docs/PERFORMANCE.md). badger has no call that only flushes; DropPrefix flushes every
// memtable first, so Flush writes a marker and drops it. DropPrefix
// refuses writes while it runs (badger.ErrBlockedWrites): Flush holds the
// writers' lock throughout, so the cache's writers wait instead. Readers go
// on.
func (c *Cache) Flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.updateLocked(c.read.Load().gen, func(tx *badger.Txn) error { return tx.Set(keyFlush, nil) }); err != nil {
		return err
	}
	return c.db.DropPrefix(keyFlush)
}
