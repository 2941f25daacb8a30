package link

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/quic-go/quic-go"

	"touchpoint.dev/touchpoint/agent/cache"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// Profiles is what the link needs of the cache for customers (wire
// version 3): storing what it fetches, recording pushed contacts, and the
// region filter of the change feed.
type Profiles interface {
	PutProfiles(fs []cache.Fetched) error
	PutFetched(f cache.Fetched) (erased bool, err error)
	AddContacts(evs []protocol.ContactEvent, own bool) error
	SetRegion(region string, unregioned bool)
	// Flush writes what the cache holds in memory out to its tables,
	// once a prefetch has stored many profiles.
	Flush() error
}

// ErrOffline: no session is up to ask the control plane.
var ErrOffline = errors.New("the control plane is not reachable")

// ErrUnknownCustomer: the control plane does not know the customer.
var ErrUnknownCustomer = errors.New("unknown customer")

// defaultUnregionedMax: customers without a region are prefetched only
// when there are at most this many.
const defaultUnregionedMax = 50_000

// prefetchFlushMin: a prefetch of at least this many profiles is flushed
// out of the cache's memtable (Cache.Flush); fewer cost a read little.
const prefetchFlushMin = 10_000

// setConn records the session's connection (nil when it ends) and clears
// the customers refreshed in the previous session.
func (l *Link) setConn(c *quic.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conn = c
	l.refreshed = map[string]bool{}
	l.prefetchedRegions = map[string]bool{}
}

// FetchProfile asks the control plane for a customer's profile and recent
// contacts, stores them in the cache, and returns the profile. It fails
// with ErrOffline when no session is up and ErrUnknownCustomer when the
// cluster does not know id.
func (l *Link) FetchProfile(ctx context.Context, id string) (*protocol.Profile, error) {
	if l.profiles == nil {
		return nil, ErrOffline
	}
	l.mu.Lock()
	conn := l.conn
	l.mu.Unlock()
	if conn == nil {
		return nil, ErrOffline
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.DialTimeout)
	defer cancel()
	st, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOffline, err)
	}
	defer closeStream(st)
	stop := context.AfterFunc(ctx, func() { st.CancelRead(streamDone) })
	defer stop()
	if err := (&frameWriter{s: st}).write(wire.MsgProfileGet, &wire.ProfileGet{ID: id}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOffline, err)
	}
	f, err := wire.ReadFrame(st, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: fetch profile: %v", ErrOffline, err)
	}
	switch f.Type {
	case wire.MsgError:
		err := decodeError(f)
		if api.CodeOf(err) == api.CodeNotFound {
			return nil, ErrUnknownCustomer
		}
		return nil, fmt.Errorf("fetch profile: %w", err)
	case wire.MsgProfile:
	default:
		return nil, fmt.Errorf("fetch profile: unexpected %s", f.Type)
	}
	var m wire.Profile
	if err := f.Decode(&m); err != nil {
		return nil, err
	}
	if m.Profile.ID != id {
		return nil, fmt.Errorf("fetch profile %s: the node answered %s", id, m.Profile.ID)
	}
	erased, err := l.profiles.PutFetched(cache.Fetched{Profile: m.Profile, Contacts: m.Contacts})
	if err != nil {
		return nil, err
	}
	if erased {
		// A node that had not yet applied the erasure answered: the
		// customer is gone, as this agent already confirmed.
		return nil, ErrUnknownCustomer
	}
	l.mu.Lock()
	if l.refreshed != nil {
		l.refreshed[id] = true
	}
	l.mu.Unlock()
	return &m.Profile, nil
}

// Refreshed reports whether customer id of region was fetched or
// prefetched during this session: a customer held from before may lack
// contacts other agents recorded while this one was away, and the agent
// refreshes it the first time it decides for it in a session. Offline, there is nothing to refresh from: true.
func (l *Link) Refreshed(id, region string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conn == nil || l.refreshed[id] || l.prefetchedRegions[region]
}

// prefetch loads the profiles of the agent's region, then those without a
// region when there are few, once per cache generation (at the first
// session and after a snapshot). The change feed keeps them current.
func (l *Link) prefetch(ctx context.Context, conn *quic.Conn) {
	if l.profiles == nil {
		return
	}
	// A new agent gets a snapshot first, which would drop what a prefetch
	// stored before it.
	for i := 0; l.cache.Position().ClusterID == "" && i < 100; i++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	gen := l.cache.Position()
	l.mu.Lock()
	done := l.prefetched == gen.ClusterID+"/"+fmt.Sprint(gen.Epoch) && l.prefetchedGen == l.generation
	l.mu.Unlock()
	if done {
		return
	}
	start := time.Now()
	n := 0
	if l.cfg.Region != "" {
		l.profiles.SetRegion(l.cfg.Region, false)
		got, _, err := l.prefetchRegion(ctx, conn, l.cfg.Region, 0)
		if err != nil {
			l.log.Warn("prefetch region", "region", l.cfg.Region, "error", err)
			return
		}
		n += got
	}
	// Customers without a region: all of them when the base is small,
	// otherwise on demand.
	if l.cfg.UnregionedMax > 0 {
		l.profiles.SetRegion(l.cfg.Region, true)
		got, whole, err := l.prefetchRegion(ctx, conn, "", l.cfg.UnregionedMax)
		if err != nil {
			l.log.Warn("prefetch customers without a region", "error", err)
			return
		}
		if !whole {
			l.profiles.SetRegion(l.cfg.Region, false)
			l.log.Info("customers without a region are too many to prefetch: fetched on demand", "max", l.cfg.UnregionedMax)
		}
		n += got
	}
	l.mu.Lock()
	l.prefetched, l.prefetchedGen = gen.ClusterID+"/"+fmt.Sprint(gen.Epoch), l.generation
	l.mu.Unlock()
	l.log.Info("profiles prefetched", "region", l.cfg.Region, "profiles", n, "took", time.Since(start).Round(time.Millisecond))
	// The cache is read for the rest of the day: leave the last profiles
	// in a table, not in the memtable every read walks first.
	if n >= prefetchFlushMin {
		flushStart := time.Now()
		if err := l.profiles.Flush(); err != nil {
			l.log.Warn("flush the cache after the prefetch", "error", err)
		} else {
			l.log.Debug("cache flushed after the prefetch", "took", time.Since(flushStart).Round(time.Millisecond))
		}
	}
}

// prefetchRegion streams one region into the cache. With max > 0 it first
// asks how many there are and takes none if there are more (whole false).
func (l *Link) prefetchRegion(ctx context.Context, conn *quic.Conn, region string, max int) (n int, whole bool, err error) {
	st, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return 0, false, err
	}
	defer closeStream(st)
	stop := context.AfterFunc(ctx, func() { st.CancelRead(streamDone) })
	defer stop()
	if err := (&frameWriter{s: st}).write(wire.MsgPrefetch, &wire.Prefetch{Region: region, Count: max > 0}); err != nil {
		return 0, false, err
	}
	first := max > 0
	for {
		f, err := wire.ReadFrame(st, 0)
		if err != nil {
			return n, false, err
		}
		switch f.Type {
		case wire.MsgError:
			return n, false, decodeError(f)
		case wire.MsgProfiles:
		default:
			return n, false, fmt.Errorf("prefetch: unexpected %s", f.Type)
		}
		var page wire.Profiles
		if err := f.Decode(&page); err != nil {
			return n, false, err
		}
		if first {
			first = false
			if page.Total > max {
				return 0, false, nil
			}
			continue
		}
		fs := make([]cache.Fetched, len(page.Profiles))
		for i, p := range page.Profiles {
			fs[i] = cache.Fetched{Profile: p.Profile, Contacts: p.Contacts}
		}
		if err := l.profiles.PutProfiles(fs); err != nil {
			return n, false, err
		}
		n += len(fs)
		if page.Done {
			l.mu.Lock()
			if l.prefetchedRegions != nil {
				l.prefetchedRegions[region] = true
			}
			l.mu.Unlock()
			return n, true, nil
		}
	}
}

// contactsPushed records contacts the node pushed on the control stream.
func (l *Link) contactsPushed(f wire.Frame) error {
	evs, err := wire.DecodeContacts(f.Payload)
	if err != nil {
		return err
	}
	if l.cfg.OnOwnContacts != nil {
		var through uint64
		for i := range evs {
			if evs[i].AgentID == l.cfg.AgentID {
				through = max(through, evs[i].Seq)
			}
		}
		if through > 0 {
			l.cfg.OnOwnContacts(through)
		}
	}
	if l.profiles == nil || len(evs) == 0 {
		return nil
	}
	if err := l.profiles.AddContacts(evs, false); err != nil {
		l.log.Warn("record pushed contacts", "events", len(evs), "error", err)
	}
	return nil
}
