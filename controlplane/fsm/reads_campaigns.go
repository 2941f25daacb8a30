package fsm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// Campaign results are counted from the contact ledger in one pass over the
// customer index (k/): its keys hold one customer's events together, oldest
// first, so each customer is followed with a few flags that are reset when
// the next customer's keys begin. Memory is the aggregates (per channel and
// per UTC day) plus one customer's distinct contacts, never the ledger.
//
// docs/CAMPAIGNS.md defines every count; in short, for campaign C with
// offers O:
//
//   - a customer is assigned by their first event of C (campaignId = C): to
//     control if its outcome is holdout, else to treatment, on that event's
//     channel and UTC day; the customer stays there (control is every
//     held-out decision, treatment every customer with a logged contact:
//     not an intention-to-treat split, so the report tests the groups'
//     sample ratio; docs/CAMPAIGNS.md, "Who is in each group");
//   - contacted: a non-holdout event of C; presented: one of type offer;
//   - accepted: an accepted event of C, or of an offer in O under any or no
//     campaign, at or after assignment — the only way a held-out customer
//     can succeed, and counted alike in both groups;
//   - cost: the offer's catalogue cost once per contact, a contact being one
//     (decision id, offer) of a non-holdout event of C, or the event itself
//     when it carries no decision id; value: each counted acceptance's value
//     field, else its offer's catalogue value.
//
// Erased customers (apply_customers.go) are not in the walk: their events
// are under the one id every erased customer shares (ErasedCustomer), where
// they would count as one customer. The erase counted each customer's
// events with this same tally, one customer alone, before moving them
// (countErased, erased_counts.go), and added the result to the campaign's
// erased aggregate (e/c/<campaign>), which the report adds in: the
// ErasedCustomer block is skipped, and so is the rest of a customer whose
// long erase is still being moved (e/p/<customer>).

// CampaignGroupCounts are one group's counts (treatment or control).
type CampaignGroupCounts struct {
	Targeted  int64 `json:"targeted"`
	Contacted int64 `json:"contacted"`
	Presented int64 `json:"presented"`
	Accepted  int64 `json:"accepted"`
	// Contacts are the distinct contacts cost is charged on.
	Contacts int64 `json:"contacts"`
	// Acceptances are the accepted events counted (a customer may accept
	// more than once); value is summed over them.
	Acceptances int64   `json:"acceptances"`
	Cost        float64 `json:"cost"`
	Value       float64 `json:"value"`
}

// CampaignChannelCounts are the counts of the customers assigned on one
// channel.
type CampaignChannelCounts struct {
	Channel   string              `json:"channel"`
	Treatment CampaignGroupCounts `json:"treatment"`
	Control   CampaignGroupCounts `json:"control"`
}

// CampaignDayCounts are the counts of one UTC day: each customer is counted
// on the day they first reached a stage (assigned, contacted, presented,
// accepted), contacts and cost on the contact's day, acceptances and value
// on the acceptance's day — so the days add up to the totals.
type CampaignDayCounts struct {
	Day       string              `json:"day"` // 2006-01-02, UTC
	Treatment CampaignGroupCounts `json:"treatment"`
	Control   CampaignGroupCounts `json:"control"`
}

// CampaignCounts are a campaign's results as counted from the ledger.
type CampaignCounts struct {
	Campaign protocol.Campaign `json:"campaign"`
	// Index is the applied index the counts were read at.
	Index     uint64              `json:"index"`
	Treatment CampaignGroupCounts `json:"treatment"`
	Control   CampaignGroupCounts `json:"control"`
	// Mixed counts the customers with both holdout and non-holdout events
	// of the campaign (the control percentage changed, or a contact was
	// logged by hand): they stay in the group of their first event.
	Mixed int64 `json:"mixed"`
	// Channels are ordered by channel, Days by day with no gap between
	// the first and the last (a day without events has zero counts).
	Channels []CampaignChannelCounts `json:"channels"`
	Days     []CampaignDayCounts     `json:"days"`
	// FirstEvent and LastEvent bound the events counted (zero when none).
	FirstEvent time.Time `json:"firstEvent"`
	LastEvent  time.Time `json:"lastEvent"`
	// UnknownOffers counts contacts and acceptances whose offer is not in
	// the catalogue: they carry no catalogue cost or value.
	UnknownOffers int64 `json:"unknownOffers"`
}

// maxFilledDays bounds the zero days inserted between the first and the
// last day with events: a stray timestamp years off must not make the
// answer enormous (beyond it, only days with events are listed).
const maxFilledDays = 3660

// Group indexes.
const (
	groupNone = iota - 1
	groupTreatment
	groupControl
)

// campaignCustomer is the state kept for the customer being read.
type campaignCustomer struct {
	group                          int
	channel                        string
	holdout, other                 bool
	contacted, presented, accepted bool
	contacts                       map[string]struct{}
}

func (c *campaignCustomer) reset() {
	*c = campaignCustomer{group: groupNone, contacts: c.contacts}
	clear(c.contacts)
}

// campaignTally accumulates the counts of one campaign.
type campaignTally struct {
	out      CampaignCounts
	offerSet map[string]bool
	offers   map[string]*protocol.Offer // catalogue lookups, nil: unknown
	channels map[string]*[2]CampaignGroupCounts
	days     map[string]*[2]CampaignGroupCounts
	cur      campaignCustomer
}

// newCampaignTally starts the counts of campaign c (its offers as given).
func newCampaignTally(c protocol.Campaign) *campaignTally {
	t := &campaignTally{
		offerSet: make(map[string]bool, len(c.Offers)),
		offers:   map[string]*protocol.Offer{},
		channels: map[string]*[2]CampaignGroupCounts{},
		days:     map[string]*[2]CampaignGroupCounts{},
		cur:      campaignCustomer{group: groupNone, contacts: map[string]struct{}{}},
	}
	t.out.Campaign = c
	for _, o := range c.Offers {
		t.offerSet[o] = true
	}
	return t
}

// CampaignCounts counts the results of campaign id from the contact ledger,
// the erased customers' aggregate and the catalogue as of one read: an
// *api.Error with code not_found when the catalogue holds no such campaign.
func (f *FSM) CampaignCounts(id string) (CampaignCounts, error) {
	var t *campaignTally
	err := f.view(func(tx *badger.Txn) error {
		var c protocol.Campaign
		found, err := getCatalogDoc(tx, protocol.KindCampaign, id, &c)
		if err != nil || !found {
			return err
		}
		t = newCampaignTally(c)
		if t.out.Index, err = txUint64(tx, keyApplied); err != nil {
			return err
		}
		if err := t.scan(tx, erasingCustomers(tx)); err != nil {
			return err
		}
		var agg erasedCounts
		if ok, err := getJSON(tx, erasedCountsKey(id), &agg); err != nil {
			return fmt.Errorf("erased customers' counts: %w", err)
		} else if ok {
			t.addErased(&agg)
		}
		return nil
	})
	if err != nil {
		return CampaignCounts{}, fmt.Errorf("campaign %s results: %w", id, err)
	}
	if t == nil {
		return CampaignCounts{}, api.Errorf(api.CodeNotFound, "campaign %q does not exist", id)
	}
	t.finish()
	return t.out, nil
}

// getCatalogDoc decodes catalogue object kind/id into v.
func getCatalogDoc(tx *badger.Txn, kind protocol.Kind, id string, v any) (bool, error) {
	item, err := tx.Get(catalogKey(string(kind), id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, item.Value(func(b []byte) error {
		_, doc, err := decodeObject(b)
		if err == nil {
			err = json.Unmarshal(doc, v)
		}
		if err != nil {
			return fmt.Errorf("decode %s/%s: %w", kind, id, err)
		}
		return nil
	})
}

// scan reads the whole customer index once, but for the erased customers'
// events (ErasedCustomer) and the customers being erased (erasing): the
// erased aggregate counts them.
func (t *campaignTally) scan(tx *badger.Txn, erasing map[string]bool) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = prefixCustomer
	it := tx.NewIterator(opts)
	defer it.Close()
	var customer []byte // the current customer's key prefix
	it.Rewind()
	for it.Valid() {
		item := it.Item()
		k := item.Key()
		if len(k) < len(prefixCustomer)+2 {
			it.Next()
			continue
		}
		n := int(k[len(prefixCustomer)])<<8 | int(k[len(prefixCustomer)+1])
		plen := len(prefixCustomer) + 2 + n
		if len(k) < plen {
			it.Next()
			continue
		}
		if !bytes.Equal(customer, k[:plen]) {
			t.endCustomer()
			customer = append(customer[:0], k[:plen]...)
			if id := customer[len(prefixCustomer)+2:]; string(id) == ErasedCustomer || erasing[string(id)] {
				end := prefixEnd(customer)
				if end == nil {
					break
				}
				it.Seek(end)
				continue
			}
		}
		ev, ok, err := customerEntry(tx, item, plen)
		if err != nil {
			return err
		}
		if ok {
			if err := t.event(tx, &ev); err != nil {
				return err
			}
		}
		it.Next()
	}
	t.endCustomer()
	return nil
}

// prefixEnd is the first key after every key that starts with p; nil when
// there is none.
func prefixEnd(p []byte) []byte {
	end := append([]byte{}, p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func (t *campaignTally) endCustomer() {
	if t.cur.holdout && t.cur.other {
		t.out.Mixed++
	}
	t.cur.reset()
}

// offer looks an offer up in the catalogue once per read. tx is the read's
// transaction, or the applying entry's (writer.tx) when an erase counts a
// customer: the tally reads the catalogue only through it.
func (t *campaignTally) offer(tx *badger.Txn, id string) (*protocol.Offer, error) {
	if id == "" {
		return nil, nil
	}
	if o, ok := t.offers[id]; ok {
		return o, nil
	}
	var o protocol.Offer
	found, err := getCatalogDoc(tx, protocol.KindOffer, id, &o)
	if err != nil {
		return nil, err
	}
	var p *protocol.Offer
	if found {
		p = &o
	}
	t.offers[id] = p
	return p, nil
}

// event counts one event of the current customer (events arrive oldest
// first).
func (t *campaignTally) event(tx *badger.Txn, ev *protocol.ContactEvent) error {
	c := &t.cur
	ofCampaign := ev.CampaignID == t.out.Campaign.ID
	if !ofCampaign && (c.group == groupNone || ev.Outcome != protocol.OutcomeAccepted || !t.offerSet[ev.OfferID]) {
		return nil
	}
	day := ev.Time.UTC().Format(time.DateOnly)
	if c.group == groupNone {
		c.group, c.channel = groupTreatment, ev.Channel
		if ev.Outcome == protocol.OutcomeHoldout {
			c.group = groupControl
		}
	}
	tot, ch, d := t.counters(c.group, c.channel, day)
	add := func(f func(g *CampaignGroupCounts)) { f(tot); f(ch); f(d) }
	if t.out.FirstEvent.IsZero() || ev.Time.Before(t.out.FirstEvent) {
		t.out.FirstEvent = ev.Time
	}
	if ev.Time.After(t.out.LastEvent) {
		t.out.LastEvent = ev.Time
	}
	if ofCampaign {
		if !c.holdout && !c.other {
			add(func(g *CampaignGroupCounts) { g.Targeted++ })
		}
		if ev.Outcome == protocol.OutcomeHoldout {
			c.holdout = true
		} else {
			c.other = true
			if !c.contacted {
				c.contacted = true
				add(func(g *CampaignGroupCounts) { g.Contacted++ })
			}
			if !c.presented && ev.Type == protocol.ContactOffer {
				c.presented = true
				add(func(g *CampaignGroupCounts) { g.Presented++ })
			}
			if err := t.contact(tx, ev, add); err != nil {
				return err
			}
		}
	}
	if ev.Outcome != protocol.OutcomeAccepted {
		return nil
	}
	if !c.accepted {
		c.accepted = true
		add(func(g *CampaignGroupCounts) { g.Accepted++ })
	}
	value := ev.Value
	if value == 0 {
		o, err := t.offer(tx, ev.OfferID)
		if err != nil {
			return err
		}
		if o != nil {
			value = o.Value
		} else if ev.OfferID != "" {
			t.out.UnknownOffers++
		}
	}
	add(func(g *CampaignGroupCounts) { g.Acceptances++; g.Value += value })
	return nil
}

// contact charges the offer's cost once per distinct contact.
func (t *campaignTally) contact(tx *badger.Txn, ev *protocol.ContactEvent, add func(func(*CampaignGroupCounts))) error {
	if ev.DecisionID != "" {
		key := ev.DecisionID + "\x00" + ev.OfferID
		if _, seen := t.cur.contacts[key]; seen {
			return nil
		}
		t.cur.contacts[key] = struct{}{}
	}
	o, err := t.offer(tx, ev.OfferID)
	if err != nil {
		return err
	}
	cost := 0.0
	if o != nil {
		cost = o.Cost
	} else if ev.OfferID != "" {
		t.out.UnknownOffers++
	}
	add(func(g *CampaignGroupCounts) { g.Contacts++; g.Cost += cost })
	return nil
}

// counters returns the group's total, channel and day counters.
func (t *campaignTally) counters(group int, channel, day string) (tot, ch, d *CampaignGroupCounts) {
	cc := t.channels[channel]
	if cc == nil {
		cc = new([2]CampaignGroupCounts)
		t.channels[channel] = cc
	}
	dc := t.days[day]
	if dc == nil {
		dc = new([2]CampaignGroupCounts)
		t.days[day] = dc
	}
	tot = &t.out.Treatment
	if group == groupControl {
		tot = &t.out.Control
	}
	return tot, &cc[group], &dc[group]
}

// finish orders the channels and days, filling the days without events.
func (t *campaignTally) finish() {
	t.out.Channels = make([]CampaignChannelCounts, 0, len(t.channels))
	for ch, c := range t.channels {
		t.out.Channels = append(t.out.Channels, CampaignChannelCounts{Channel: ch, Treatment: c[groupTreatment], Control: c[groupControl]})
	}
	sort.Slice(t.out.Channels, func(i, j int) bool { return t.out.Channels[i].Channel < t.out.Channels[j].Channel })
	t.out.Days = make([]CampaignDayCounts, 0, len(t.days))
	for day, c := range t.days {
		t.out.Days = append(t.out.Days, CampaignDayCounts{Day: day, Treatment: c[groupTreatment], Control: c[groupControl]})
	}
	sort.Slice(t.out.Days, func(i, j int) bool { return t.out.Days[i].Day < t.out.Days[j].Day })
	if len(t.out.Days) < 2 {
		return
	}
	first, err1 := time.Parse(time.DateOnly, t.out.Days[0].Day)
	last, err2 := time.Parse(time.DateOnly, t.out.Days[len(t.out.Days)-1].Day)
	span := int(last.Sub(first).Hours()/24) + 1
	if err1 != nil || err2 != nil || span > maxFilledDays || span == len(t.out.Days) {
		return
	}
	filled := make([]CampaignDayCounts, 0, span)
	i := 0
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		day := d.Format(time.DateOnly)
		if i < len(t.out.Days) && t.out.Days[i].Day == day {
			filled = append(filled, t.out.Days[i])
			i++
			continue
		}
		filled = append(filled, CampaignDayCounts{Day: day})
	}
	t.out.Days = filled
}
