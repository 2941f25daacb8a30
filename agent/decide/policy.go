package decide

import (
	"fmt"
	"slices"
	"time"

	"touchpoint.dev/touchpoint/protocol"
)

// marketing applies the contact policies for this decision's channel
// (policies of that channel and of "all"), once per decision: the first
// one that forbids marketing contact gives every non-transactional offer
// its code and reason. Policies that cannot be applied come first
// (policy_error), then consent, caps and quiet hours, each in policy id
// order.
func (e *Engine) marketing(s *scratch) *marketing {
	m := &s.mkt
	if m.done {
		return m
	}
	m.done = true
	ch := s.in.Channel
	for i := range e.policies {
		if p := &e.policies[i]; p.applies(ch) && p.bad != noReason {
			m.code, m.reason = codePolicyError, p.bad
			return m
		}
	}
	for i := range e.policies {
		if p := &e.policies[i]; p.applies(ch) && p.consent && !consents(s.p, ch) {
			start := len(s.arena)
			s.arena = fmt.Appendf(s.arena, msgNoConsent, p.p.ID, ch)
			m.code, m.reason = codeNoConsent, s.since(start)
			return m
		}
	}
	for i := range e.policies {
		p := &e.policies[i]
		if !p.applies(ch) {
			continue
		}
		if n, held := p.count(s); n >= p.max {
			where := p.channel
			if p.all {
				where = msgAllChannels
			}
			start := len(s.arena)
			if p.max <= 0 {
				s.arena = fmt.Appendf(s.arena, msgContactCapZero, p.p.ID, where)
			} else {
				s.arena = fmt.Appendf(s.arena, msgContactCap, p.p.ID, p.max, contacts(p.max), p.p.Window, where, n)
				if held > 0 {
					s.arena = fmt.Appendf(s.arena, msgContactCapHeld, held, contacts(held))
				}
			}
			m.code, m.reason = codeContactCap, s.since(start)
			return m
		}
	}
	for i := range e.policies {
		p := &e.policies[i]
		if !p.applies(ch) || !p.quiet {
			continue
		}
		local := s.now.In(p.loc)
		if p.inQuiet(local.Hour()*60 + local.Minute()) {
			q := p.p.QuietHours
			start := len(s.arena)
			s.arena = fmt.Appendf(s.arena, msgQuietHours, p.p.ID, q.Start, q.End, p.loc.String(), local.Format("15:04"))
			m.code, m.reason = codeQuietHours, s.since(start)
			return m
		}
	}
	return m
}

func (p *policyC) applies(ch string) bool { return p.all || p.channel == ch }

// inQuiet reports whether minute m of the local day is inside the quiet
// hours [start, end); a span whose end is not after its start crosses
// midnight (21:00–08:00 is quiet from 21:00 to 07:59).
func (p *policyC) inQuiet(m int) bool {
	if p.qStart < p.qEnd {
		return m >= p.qStart && m < p.qEnd
	}
	return m >= p.qStart || m < p.qEnd
}

// count is how many contacts the policy counts in [now−window, now]:
// every outcome, holdouts included (a held-out customer takes the contact
// slot the treated one uses, so the control group is not contacted more
// by other campaigns), any type, on the policy's channel or on every
// channel for "all"; the customer's answer to a presentation counts with
// it, as one contact (markResponses). held is how many are holdouts.
func (p *policyC) count(s *scratch) (n, held int) {
	from := s.now.Add(-p.window)
	for i := range s.contacts { // only contacts at or before now
		c := &s.contacts[i]
		if c.Time.Before(from) || (!c.answers.IsZero() && !c.answers.Before(from)) {
			continue // outside the window, or counted with its presentation
		}
		if (p.all || c.Channel == p.channel) && (len(p.p.Types) == 0 || slices.Contains(p.p.Types, c.Type)) {
			n++
			if c.Outcome == protocol.OutcomeHoldout {
				held++
			}
		}
	}
	return n, held
}

// consents reports whether the profile gives consent for ch or "all".
func consents(p *protocol.Profile, ch string) bool {
	return p.Consents[ch] || p.Consents[protocol.ChannelAll]
}

const day = 24 * time.Hour

// declined reports whether the offer's suppression pause is running: the
// customer declined it `declines` times within `days` days, and the last
// of those declines is less than `pauseDays` days ago.
func (e *Engine) declined(s *scratch, o *offerC) (reason, bool) {
	sp := o.suppression
	if sp == nil || sp.Declines <= 0 || sp.PauseDays <= 0 {
		return noReason, false
	}
	s.declines = s.declines[:0]
	for i := range s.contacts {
		if c := &s.contacts[i]; c.Outcome == protocol.OutcomeDeclined && c.OfferID == o.o.ID {
			s.declines = append(s.declines, c.Time)
		}
	}
	t, n := s.declines, sp.Declines
	within := time.Duration(sp.Days) * day
	for i := len(t) - 1; i >= n-1; i-- {
		if t[i].Sub(t[i-n+1]) > within {
			continue
		}
		// The latest run of n declines within the window: its last
		// decline starts the pause.
		until := t[i].Add(time.Duration(sp.PauseDays) * day)
		if !s.now.Before(until) {
			return noReason, false
		}
		start := len(s.arena)
		s.arena = fmt.Appendf(s.arena, msgDeclined, o.o.ID, n, sp.Days, t[i].UTC().Format(time.RFC3339), sp.PauseDays, until.UTC().Format(time.RFC3339))
		return s.since(start), true
	}
	return noReason, false
}

// volumeCapped reports whether the offer was presented volumeCap times.
func (e *Engine) volumeCapped(s *scratch, o *offerC) (reason, bool) {
	if o.volumeCap <= 0 || s.in.OfferVolume == nil {
		return noReason, false
	}
	n, ok := s.in.OfferVolume[o.o.ID]
	if !ok || n < o.volumeCap {
		return noReason, false
	}
	start := len(s.arena)
	s.arena = fmt.Appendf(s.arena, msgVolumeCap, o.o.ID, n, o.o.VolumeCap)
	return s.since(start), true
}

// contacts is "contact" or "contacts" after n.
func contacts(n int) string {
	if n == 1 {
		return msgContact
	}
	return msgContacts
}
