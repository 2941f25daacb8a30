package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"touchpoint.dev/touchpoint/protocol"
)

const (
	// MaxEventBytes is the largest encoded event Append accepts.
	MaxEventBytes = 64 << 10
	// A group commit takes every queued append up to these bounds, which
	// keep one group well inside a badger transaction (15% of the 16 MiB
	// memtable).
	maxGroup      = 4096
	maxGroupBytes = 1 << 20
)

type appendReq struct {
	ctx  context.Context
	ev   protocol.ContactEvent // validated; Seq is assigned by the committer
	val  []byte                // ev encoded with Seq 0: the key holds the sequence
	done chan appendResult     // buffered: the committer never blocks on it
	// idem, when set, is the append's idempotency key (AppendIdempotent);
	// replayed is set by the committer, before it answers, when the key
	// was stored already.
	idem     *Idempotency
	replayed bool
}

type appendResult struct {
	ev  protocol.ContactEvent
	err error
}

func (r *appendReq) answer(ev protocol.ContactEvent, err error) {
	r.done <- appendResult{ev, err}
}

// Append stamps e with the agent id, the next sequence and (if it has none)
// the current time, and stores it. It returns the stored event only once it
// is fsynced; concurrent Appends share one commit and one sync. A refused
// event (invalid, too large, ErrFull, ErrClosed) takes no sequence.
//
// If ctx ends while the event waits for its group commit, Append returns
// the context's error and the event may or may not have been stored: it was
// not acknowledged, and if stored it is delivered like any other.
func (o *Outbox) Append(ctx context.Context, e protocol.ContactEvent) (protocol.ContactEvent, error) {
	r, err := o.prepare(ctx, e)
	if err != nil {
		return protocol.ContactEvent{}, err
	}
	if err := o.enqueue(ctx, r); err != nil {
		return protocol.ContactEvent{}, err
	}
	return o.wait(ctx, r)
}

// AppendAll appends evs as Append does each, in order, sharing commits: it
// queues them all before waiting for any. It returns the events stored
// before the first that failed, and that failure.
func (o *Outbox) AppendAll(ctx context.Context, evs []protocol.ContactEvent) ([]protocol.ContactEvent, error) {
	reqs := make([]*appendReq, 0, len(evs))
	var qerr error
	for _, e := range evs {
		r, err := o.prepare(ctx, e)
		if err == nil {
			err = o.enqueue(ctx, r)
		}
		if err != nil {
			qerr = err
			break
		}
		reqs = append(reqs, r)
	}
	out := make([]protocol.ContactEvent, 0, len(reqs))
	for _, r := range reqs {
		ev, err := o.wait(ctx, r)
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
	return out, qerr
}

// prepare validates and encodes one event for the committer.
func (o *Outbox) prepare(ctx context.Context, e protocol.ContactEvent) (*appendReq, error) {
	e.AgentID = o.cfg.AgentID
	if e.Time.IsZero() {
		e.Time = o.cfg.Now().UTC()
	}
	// Validate the caller's fields; the real sequence comes later.
	e.Seq = 1
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("append: %w", err)
	}
	// Stored in protocol's binary form with sequence 0 (one byte, right
	// after the version): the key holds the sequence, and Pending splices
	// it in.
	e.Seq = 0
	val := protocol.AppendEventBinary(make([]byte, 0, protocol.EventBinarySize(&e)), &e)
	if len(val) > MaxEventBytes {
		return nil, fmt.Errorf("append: event is %d bytes, the limit is %d", len(val), MaxEventBytes)
	}
	return &appendReq{ctx: ctx, ev: e, val: val, done: make(chan appendResult, 1)}, nil
}

// enqueue hands r to the committer.
func (o *Outbox) enqueue(ctx context.Context, r *appendReq) error {
	select {
	case <-o.closing:
		return ErrClosed
	default:
	}
	select {
	case o.reqs <- r:
		return nil
	case <-o.closing:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("append: %w", ctx.Err())
	}
}

// wait is r's outcome once committed and synced.
func (o *Outbox) wait(ctx context.Context, r *appendReq) (protocol.ContactEvent, error) {
	select {
	case res := <-r.done:
		return res.ev, res.err
	case <-o.stopped:
		// The committer answers everything it took before stopping.
		select {
		case res := <-r.done:
			return res.ev, res.err
		default:
			return protocol.ContactEvent{}, ErrClosed
		}
	case <-ctx.Done():
		return protocol.ContactEvent{}, fmt.Errorf("append: outcome unknown: %w", ctx.Err())
	}
}

// commitLoop is the single writer of events. It takes everything queued
// (no waiting for more: under load the queue refills during each sync),
// commits it in one transaction and syncs once.
func (o *Outbox) commitLoop() {
	defer close(o.stopped)
	group := make([]*appendReq, 0, maxGroup)
	for {
		select {
		case r := <-o.reqs:
			group = append(group[:0], r)
		case <-o.closing:
			o.refuseQueued()
			return
		}
		size := len(group[0].val)
		gather := func() {
			for len(group) < maxGroup && size < maxGroupBytes {
				select {
				case r := <-o.reqs:
					group = append(group, r)
					size += len(r.val)
				default:
					return
				}
			}
		}
		gather()
		// Linger, only under concurrency (two or more appends waiting):
		// after a sync that took d, wait until d has passed since it ended
		// (at most GroupWindow) to gather more, so that a disk slowed by
		// others gets fewer, larger syncs. A lone append never waits, and
		// on a fast disk the wait is as short as its syncs.
		if w := o.cfg.GroupWindow; w > 0 && len(group) > 1 {
			if d := min(w, o.lastSyncDur) - time.Since(o.lastSync); d > 0 {
				timer := time.NewTimer(d)
			linger:
				for len(group) < maxGroup && size < maxGroupBytes {
					select {
					case r := <-o.reqs:
						group = append(group, r)
						size += len(r.val)
					case <-timer.C:
						break linger
					}
				}
				timer.Stop()
			}
		}
		o.commit(group)
		clear(group)
	}
}

func (o *Outbox) refuseQueued() {
	for {
		select {
		case r := <-o.reqs:
			r.answer(protocol.ContactEvent{}, ErrClosed)
		default:
			return
		}
	}
}

// commit writes one group: the events that fit and m/last in one
// transaction, then one sync, then the answers. Sequences advance in memory
// only after the sync, so a failed group reuses none of them.
func (o *Outbox) commit(group []*appendReq) {
	o.commitMu.Lock()
	defer o.commitMu.Unlock()
	o.mu.Lock()
	last, used, failure := o.last, o.bytes, o.failure
	o.mu.Unlock()
	if failure != nil {
		for _, r := range group {
			r.answer(protocol.ContactEvent{}, failure)
		}
		return
	}
	if err := o.cfg.Disk.Check(); err != nil {
		for _, r := range group {
			r.answer(protocol.ContactEvent{}, fmt.Errorf("append: %w", err))
		}
		return
	}

	seq := last
	var added int64
	var refused []*appendReq // answered ErrFull once Stats reports full
	accepted := group[:0]    // filtered in place; group is not used after
	tx := o.db.NewTransaction(true)
	defer tx.Discard()
	var err error
	// Idempotency keys this group stores, and the appends that repeat one
	// of them: answered as replays once the group is synced.
	var keys map[string]*appendReq
	var repeats [][2]*appendReq // {repeat, original}
	for _, r := range group {
		if err != nil {
			r.answer(protocol.ContactEvent{}, fmt.Errorf("append: %w", err))
			continue
		}
		if cerr := r.ctx.Err(); cerr != nil {
			r.answer(protocol.ContactEvent{}, fmt.Errorf("append: %w", cerr))
			continue
		}
		if r.idem != nil {
			if orig, ok := keys[r.idem.Key]; ok {
				if orig.idem.Digest != r.idem.Digest {
					r.answer(protocol.ContactEvent{}, ErrKeyReused)
				} else {
					repeats = append(repeats, [2]*appendReq{r, orig})
				}
				continue
			}
			prior, seen, perr := storedAppend(tx, r.idem)
			if perr != nil && !errors.Is(perr, ErrKeyReused) {
				err = perr // the store failed: this group goes no further
				r.answer(protocol.ContactEvent{}, fmt.Errorf("append: %w", perr))
				continue
			}
			if seen {
				if perr == nil {
					r.replayed, r.ev.Seq = true, prior
					r.answer(r.ev, nil)
				} else {
					r.answer(protocol.ContactEvent{}, perr)
				}
				continue
			}
		}
		size := int64(eventKeyLen + len(r.val))
		if used+added+size > o.cfg.MaxBytes {
			refused = append(refused, r)
			continue
		}
		seq++
		if err = tx.Set(eventKey(seq), r.val); err != nil {
			r.answer(protocol.ContactEvent{}, fmt.Errorf("append: %w", err))
			continue
		}
		if r.idem != nil {
			v := idemValue(seq, r.idem.Digest)
			if err = tx.SetEntry(badger.NewEntry(idemKey(r.idem.Key), v).WithTTL(IdempotencyTTL)); err != nil {
				r.answer(protocol.ContactEvent{}, fmt.Errorf("append: %w", err))
				continue
			}
			if keys == nil {
				keys = map[string]*appendReq{}
			}
			keys[r.idem.Key] = r
		}
		added += size
		r.ev.Seq = seq
		accepted = append(accepted, r)
	}
	if err == nil && len(accepted) > 0 {
		if err = tx.Set(keyLast, u64(seq)); err == nil {
			if err = tx.Commit(); err == nil {
				start := time.Now()
				err = o.sync()
				o.lastSync = time.Now()
				o.lastSyncDur = o.lastSync.Sub(start)
			}
		}
	}

	o.mu.Lock()
	if err != nil {
		// After a failed commit or sync badger's state on disk is unknown:
		// refuse appends until the outbox is reopened and reloads it.
		o.failure = fmt.Errorf("append: outbox failed, reopen it: %w", err)
		failure = o.failure
	} else {
		o.last = seq
		o.bytes += added
		if len(accepted) > 0 {
			close(o.appended) // wake whoever waits for new events
			o.appended = make(chan struct{})
		}
		if len(refused) > 0 {
			o.full = true
		} else if len(accepted) > 0 {
			o.full = false
		}
	}
	o.mu.Unlock()
	for _, r := range refused {
		r.answer(protocol.ContactEvent{}, ErrFull)
	}

	if err != nil {
		o.log.Error("group commit failed", "events", len(accepted), "error", err)
	}
	for _, r := range accepted {
		if err != nil {
			r.answer(protocol.ContactEvent{}, failure)
		} else {
			r.answer(r.ev, nil)
		}
	}
	for _, rr := range repeats {
		r, orig := rr[0], rr[1]
		if err != nil {
			r.answer(protocol.ContactEvent{}, failure)
			continue
		}
		r.replayed, r.ev.Seq = true, orig.ev.Seq
		r.answer(r.ev, nil)
	}
}
