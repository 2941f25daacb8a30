package agent

import (
	"context"
	crand "crypto/rand"
	"math/rand/v2"
	"time"

	"touchpoint.dev/touchpoint/agent/decide"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// lookup is what one decision reads about its customer: the profile and
// the contact history, as the engine takes them. Lookups are pooled, so a
// decision reuses the slices of an earlier one.
type lookup struct {
	profile  *protocol.Profile
	evs      []protocol.ContactEvent
	contacts []decide.Contact
	err      *api.Error
	// rand draws the Thompson samples of learned propensities; each
	// pooled lookup has its own, seeded from the operating system.
	rand *rand.Rand
}

// lookup reads id's profile and history: both in one cache read when the
// profile is cached, else the profile from the control plane (see
// Agent.profile) and then the history. The caller puts l back in
// a.lookups when the decision no longer needs it.
func (a *Agent) lookup(ctx context.Context, id string, now time.Time) *lookup {
	l, _ := a.lookups.Get().(*lookup)
	if l == nil {
		var seed [32]byte
		_, _ = crand.Read(seed[:]) // never fails on Linux (crypto/rand)
		l = &lookup{rand: rand.New(rand.NewChaCha8(seed))}
	}
	clear(l.evs) // drop the last decision's strings
	clear(l.contacts)
	*l = lookup{evs: l.evs[:0], contacts: l.contacts[:0], rand: l.rand}
	since := now.Add(-wire.MaxContactWindow * time.Second)
	p, evs, ok, err := a.cache.Lookup(id, since, wire.MaxRecentContacts, l.evs)
	switch {
	case err != nil:
		l.err = api.Errorf(api.CodeInternal, "%v", err)
		return l
	case ok:
		if !a.link.Refreshed(id, p.Region) && a.refreshFirst(ctx, id) {
			// The control plane sent the profile and its history, which
			// may hold contacts other agents made while this one was
			// away: decide on them, not on the copy held from before.
			if q, fresh, held, err := a.cache.Lookup(id, since, wire.MaxRecentContacts, l.evs[:0]); err == nil && held {
				p, evs = q, fresh
			}
		}
	default:
		if p, l.err = a.profile(ctx, id); l.err != nil {
			return l
		}
		if evs, err = a.cache.Contacts(id, since, wire.MaxRecentContacts); err != nil {
			l.err = api.Errorf(api.CodeInternal, "%v", err)
			return l
		}
	}
	l.profile, l.evs = p, evs
	for _, e := range evs {
		l.contacts = append(l.contacts, decide.Contact{Time: e.Time, Channel: e.Channel, Type: e.Type, Outcome: e.Outcome, OfferID: e.OfferID, CampaignID: e.CampaignID})
	}
	return l
}
