package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/quic-go/quic-go"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// minAgentVersion is the oldest protocol version an agent may speak: a
// version-2 agent gets everything but profiles and contacts.
const minAgentVersion = 2

// Prefetch pages: profiles per Profiles frame, by default and at most.
const (
	defaultPrefetchPage = 500
	maxPrefetchPage     = 5000
)

// contactsPage bounds the events of one Contacts frame.
const contactsPage = 8192

// acceptStreams serves the streams an agent opens after its control
// stream, told apart by their first frame: an events stream (one served at
// a time), or a ProfileGet or Prefetch request (each on its own stream,
// served concurrently; QUIC bounds how many are open).
func (s *session) acceptStreams(ctx context.Context) {
	for {
		st, err := s.conn.AcceptStream(ctx)
		if err != nil {
			return
		}
		_ = st.SetReadDeadline(time.Now().Add(10 * time.Second))
		f, err := wire.ReadFrame(st, maxEventsFrame)
		_ = st.SetReadDeadline(time.Time{})
		if err != nil {
			closeStream(st)
			continue
		}
		switch f.Type {
		case wire.MsgProfileGet:
			go s.serveProfileGet(st, f)
		case wire.MsgPrefetch:
			go s.servePrefetch(ctx, st, f)
		default:
			// An events stream: hand serveEvents the frame already read.
			var first bytes.Buffer
			_ = wire.WriteRaw(&first, f.Type, f.Payload)
			r := io.MultiReader(&first, st)
			go func() {
				s.events.Lock()
				err := s.serveEvents(ctx, st, r)
				s.events.Unlock()
				closeStream(st)
				if err != nil && ctx.Err() == nil {
					s.g.log.Debug("events stream ended", "agent", s.id, "error", err)
				}
			}()
		}
	}
}

// recentContacts is a customer's contact history as agents keep it: oldest
// first, within wire.MaxContactWindow of now, at most
// wire.MaxRecentContacts.
func (g *Gateway) recentContacts(id string) ([]protocol.ContactEvent, error) {
	evs, err := g.state.RecentContacts(id, wire.MaxRecentContacts)
	if err != nil {
		return nil, err
	}
	floor := g.cfg.Now().Add(-wire.MaxContactWindow * time.Second)
	out := evs[:0]
	for _, e := range evs {
		if !e.Time.Before(floor) {
			out = append(out, e)
		}
	}
	slices.Reverse(out)
	return out, nil
}

func (s *session) serveProfileGet(st *quic.Stream, f wire.Frame) {
	defer closeStream(st)
	g := s.g
	var req wire.ProfileGet
	if err := f.Decode(&req); err != nil {
		g.replyError(st, api.Errorf(api.CodeInvalidJSON, "%v", err))
		return
	}
	idx := g.state.Applied()
	p, err := g.state.Customer(req.ID)
	if err != nil {
		g.replyError(st, err)
		return
	}
	contacts, err := g.recentContacts(req.ID)
	if err != nil {
		g.replyError(st, err)
		return
	}
	g.metrics.ProfilesServed.Add(1)
	_ = wire.WriteFrame(st, wire.MsgProfile, wire.Profile{Profile: *p, Contacts: contacts, Index: idx})
}

func (s *session) servePrefetch(ctx context.Context, st *quic.Stream, f wire.Frame) {
	defer closeStream(st)
	g := s.g
	var req wire.Prefetch
	if err := f.Decode(&req); err != nil {
		g.replyError(st, api.Errorf(api.CodeInvalidJSON, "%v", err))
		return
	}
	if req.Region != "" && !protocol.ValidAgentID(req.Region) {
		g.replyError(st, api.Errorf(api.CodeInvalidField, "region %q", req.Region))
		return
	}
	if req.Count {
		n, err := g.state.CountRegion(req.Region, 0)
		if err != nil {
			g.replyError(st, err)
			return
		}
		if err := wire.WriteFrame(st, wire.MsgProfiles, wire.Profiles{Profiles: []wire.Profile{}, Total: n}); err != nil {
			return
		}
	}
	page := req.Limit
	if page <= 0 {
		page = defaultPrefetchPage
	}
	page = min(page, maxPrefetchPage)
	after := req.After
	for ctx.Err() == nil {
		ps, next, err := g.state.CustomersInRegion(req.Region, after, page)
		if err != nil {
			g.replyError(st, err)
			return
		}
		out := wire.Profiles{Profiles: make([]wire.Profile, 0, len(ps)), Next: next, Done: next == ""}
		for i := range ps {
			contacts, err := g.recentContacts(ps[i].ID)
			if err != nil {
				g.replyError(st, err)
				return
			}
			out.Profiles = append(out.Profiles, wire.Profile{Profile: ps[i], Contacts: contacts})
		}
		if err := wire.WriteFrame(st, wire.MsgProfiles, out); err != nil {
			return
		}
		g.metrics.ProfilesServed.Add(int64(len(ps)))
		if out.Done {
			return
		}
		after = next
	}
}

// pushContacts sends the contacts committed since the last push: the hub's
// shared frame, after catching up to where it starts if the session missed
// earlier ones.
func (s *session) pushContacts(ctl *quic.Stream) error {
	if s.version < 3 {
		return nil
	}
	g := s.g
	for {
		fr := g.hub.latestContacts()
		sent := s.contactsSent
		if fr == nil || sent >= fr.to {
			return nil
		}
		b, next := fr.frame, fr.to
		if sent < fr.from {
			evs, n, lost := g.state.ContactsAfter(sent, int(min(contactsPage, fr.from-sent)))
			if lost > 0 {
				g.log.Warn("agent fell behind the contact feed", "agent", s.id, "lost", lost)
			}
			var err error
			if b, err = encodeContacts(evs); err != nil {
				return err
			}
			next = n
		}
		if _, err := ctl.Write(b); err != nil {
			return err
		}
		g.metrics.ContactsPushed.Add(1)
		s.contactsSent = next
	}
}

func encodeContacts(evs []protocol.ContactEvent) ([]byte, error) {
	b, err := wire.EncodeContacts(evs)
	if err != nil {
		return nil, fmt.Errorf("encode contacts: %w", err)
	}
	return b, nil
}
