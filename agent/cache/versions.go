package cache

import (
	"sync/atomic"

	badger "github.com/dgraph-io/badger/v4"
)

// Timestamps. The store is opened in badger's managed mode: the cache, not
// badger, gives every commit its timestamp, and a read transaction reads
// at the timestamp of the last commit that completed. In badger's own mode
// every read transaction starts by waiting for every commit in flight
// (oracle.readTs → txnMark.WaitForMark, under the oracle's mutex), and the
// agent's cache is written all the time (holdouts, contacts pushed back by
// the control plane, profile fetches): decisions queued behind those
// writes (docs/PERFORMANCE.md). Here a read never waits for a writer.
//
// Writers take wmu, commit at last+1 and, once the commit is complete,
// publish that timestamp (with the generation readers should use from
// then on) in one atomic store. So a reader sees every write that returned
// before it started, and never part of one: a write batch that badger
// splits into several transactions shares one timestamp and appears at
// once. Old versions are discarded (SetDiscardTs) only below the
// timestamp of every reader still running (see readers).

// readPoint is what a reader reads at.
type readPoint struct {
	ts  uint64
	gen uint64
}

// view runs fn in a read transaction at the last complete commit, with
// the generation current at that commit.
func (c *Cache) view(fn func(tx *badger.Txn, gen uint64) error) error {
	e := c.readers.begin()
	defer c.readers.end(e)
	rp := c.read.Load()
	tx := c.db.NewTransactionAt(rp.ts, false)
	defer tx.Discard()
	return fn(tx, rp.gen)
}

// update runs fn in a write transaction that reads the last complete
// commit, commits it at the next timestamp and publishes it with gen.
func (c *Cache) update(gen uint64, fn func(tx *badger.Txn) error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.updateLocked(gen, fn)
}

// updateLocked is update with wmu held.
func (c *Cache) updateLocked(gen uint64, fn func(tx *badger.Txn) error) error {
	if err := c.disk.Check(); err != nil {
		return err
	}
	tx := c.db.NewTransactionAt(c.read.Load().ts, true)
	defer tx.Discard()
	if err := fn(tx); err != nil {
		return err
	}
	c.last++
	ts := c.last
	if err := tx.CommitAt(ts, nil); err != nil {
		return err
	}
	c.publish(ts, gen)
	return nil
}

// batch runs fn on a write batch committed at the next timestamp, however
// many transactions badger splits it into, and publishes it with gen.
func (c *Cache) batch(gen uint64, fn func(wb *badger.WriteBatch) error) error {
	if err := c.disk.Check(); err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.last++
	ts := c.last
	wb := c.db.NewWriteBatchAt(ts)
	defer wb.Cancel()
	if err := fn(wb); err != nil {
		return err
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	c.publish(ts, gen)
	return nil
}

// discardEvery is how many commits pass between attempts to move the
// discard timestamp.
const discardEvery = 64

// publish makes ts the readers' timestamp (wmu held) and, every
// discardEvery commits, lets compaction drop versions no reader can see.
func (c *Cache) publish(ts, gen uint64) {
	c.read.Store(&readPoint{ts: ts, gen: gen})
	if ts%discardEvery == 0 {
		if d, ok := c.readers.advance(ts); ok {
			c.db.SetDiscardTs(d)
		}
	}
}

// readers says which timestamps running readers may still read at,
// without a lock on the read path: each reader counts itself in the
// current epoch (one atomic add) before it loads the read point. To move
// the discard timestamp, the writer notes the published timestamp T and
// starts a new epoch; every reader counted in the new epoch read at T or
// later, so once the old epoch's count drops to zero, versions hidden
// below T can go.
type readers struct {
	epoch  atomic.Uint64
	active [2]struct {
		n atomic.Int64
		_ [56]byte // one cache line each
	}
	// pending is the T of the epoch switch whose old readers have not all
	// finished yet (0: none). Writers only (wmu held).
	pending uint64
}

func (r *readers) begin() uint64 {
	for {
		e := r.epoch.Load()
		r.active[e&1].n.Add(1)
		if r.epoch.Load() == e {
			return e
		}
		r.active[e&1].n.Add(-1) // the epoch moved meanwhile: count in the new one
	}
}

func (r *readers) end(e uint64) { r.active[e&1].n.Add(-1) }

// advance is called by writers (wmu held) with the timestamp just
// published. It reports a timestamp that no running reader reads below,
// when there is a new one.
func (r *readers) advance(ts uint64) (uint64, bool) {
	if r.pending == 0 {
		r.pending = ts
		r.epoch.Add(1)
		return 0, false
	}
	if r.active[(r.epoch.Load()-1)&1].n.Load() != 0 {
		return 0, false // a reader of the old epoch is still reading
	}
	d := r.pending
	r.pending = 0
	return d, true
}
