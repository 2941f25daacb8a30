package agent

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// offerVolumes is what the agent knows of how often the offers with a
// volumeCap were presented across the fleet: the counts the control
// plane pushes (wire.OfferVolumes, from the ledger the node applied), plus
// this agent's own presentations of those offers that the pushed counts
// do not hold yet. The node pushes its contact feed and its volumes on one
// stream, each volumes frame read after the contacts before it (see the
// gateway's hub): an own presentation seen back in the contact feed
// (ownSeen) is counted by the next volumes frame and no longer by the
// agent. One acknowledged but never seen again (the agent fell behind the
// feed) stops counting ownExpiry after its acknowledgement. Decisions read
// the sum without a lock (current).
type offerVolumes struct {
	acked func() uint64 // the outbox's highest acknowledged sequence
	now   func() time.Time
	// save keeps each new sum (on the agent's disk, for a restart cut
	// off from the control plane); nil: not kept.
	save func(map[string]int64)

	mu    sync.Mutex
	fleet map[string]int64 // nil: no counts received yet
	own   []ownShown
	seen  uint64 // the highest own sequence seen in the contact feed
	cur   atomic.Pointer[map[string]int64]
}

// ownShown is one of this agent's presentations of a capped offer.
type ownShown struct {
	seq     uint64
	offer   string
	ackedAt time.Time // zero until seen acknowledged
}

// ownExpiry bounds how long an acknowledged own presentation counts when
// it never comes back in the contact feed.
const ownExpiry = 30 * time.Second

// current is the decision's OfferVolume: nil while no counts arrived (no
// cap is then reached).
func (v *offerVolumes) current() map[string]int64 {
	if v == nil {
		return nil
	}
	if p := v.cur.Load(); p != nil {
		return *p
	}
	return nil
}

// setFleet installs counts pushed by the control plane: they hold every
// own presentation seen in the contact feed before them.
func (v *offerVolumes) setFleet(m map[string]int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if m == nil {
		m = map[string]int64{}
	}
	v.fleet = m
	keep := v.own[:0]
	for _, o := range v.own {
		if o.seq > v.seen {
			keep = append(keep, o)
		}
	}
	clear(v.own[len(keep):])
	v.own = keep
	v.refresh()
}

// ownSeen records that the contact feed brought back this agent's events
// through seq.
func (v *offerVolumes) ownSeen(seq uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seen = max(v.seen, seq)
}

// presented records an own presentation of offer, logged as seq.
func (v *offerVolumes) presented(seq uint64, offer string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, capped := v.fleet[offer]; !capped {
		return
	}
	v.own = append(v.own, ownShown{seq: seq, offer: offer})
	v.refresh()
}

// tick drops own presentations the pushed counts hold by now.
func (v *offerVolumes) tick() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.own) > 0 {
		v.refresh()
	}
}

// refresh (mu held) ages the own presentations and publishes the sum.
func (v *offerVolumes) refresh() {
	acked, now := v.acked(), v.now()
	keep := v.own[:0]
	for _, o := range v.own {
		if o.seq <= acked {
			if o.ackedAt.IsZero() {
				o.ackedAt = now
			} else if now.Sub(o.ackedAt) >= ownExpiry {
				continue
			}
		}
		if _, capped := v.fleet[o.offer]; capped {
			keep = append(keep, o)
		}
	}
	clear(v.own[len(keep):])
	v.own = keep
	sum := make(map[string]int64, len(v.fleet))
	for k, n := range v.fleet {
		sum[k] = n
	}
	for _, o := range v.own {
		sum[o.offer]++
	}
	v.cur.Store(&sum)
	if v.save != nil {
		v.save(sum)
	}
}

// run ages own presentations until ctx ends.
func (v *offerVolumes) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			v.tick()
		}
	}
}
