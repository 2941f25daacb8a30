package fsm

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"touchpoint.dev/touchpoint/protocol"
)

// Erased customers' campaign counts. An erase moves a customer's ledger
// events to ErasedCustomer, the one id every erased customer shares, so the
// campaign report can no longer tell one erased customer's events from
// another's. Before moving them, the erase counts the customer's events for
// every campaign they have events of, with the report's own tally
// (campaignTally, reads_campaigns.go) run over that one customer, and adds
// the result to the campaign's aggregate of erased customers:
//
//	e/c/<campaign id>   erasedCounts JSON: the erased customers' counts,
//	                    channels in channel order, days in day order
//	e/p/<customer id>   empty: the customer's erase is moved in several
//	                    entries and has not moved the last events yet
//
// The report skips the ErasedCustomer block and the customers under e/p/,
// and adds e/c/<campaign>. So a campaign's counts are the same before and
// after an erase, and nothing stored names the erased customer once the
// erase has finished: e/p/<id> is deleted by the entry that moves the last
// events, and e/c/ holds sums only. The counts of an erased customer are
// those of the erase's catalogue (the campaign's offers, the offers' cost
// and value then); events that were under ErasedCustomer before this
// aggregate existed are counted nowhere.

var (
	prefixErasedCounts = []byte("e/c/")
	prefixErasing      = []byte("e/p/")
)

func erasedCountsKey(campaign string) []byte { return strKey(prefixErasedCounts, campaign) }

func erasingKey(customer string) []byte { return strKey(prefixErasing, customer) }

// erasedCounts are the erased customers' counts of one campaign, as stored.
type erasedCounts struct {
	Treatment     CampaignGroupCounts     `json:"treatment"`
	Control       CampaignGroupCounts     `json:"control"`
	Mixed         int64                   `json:"mixed"`
	UnknownOffers int64                   `json:"unknownOffers"`
	FirstEvent    time.Time               `json:"firstEvent"`
	LastEvent     time.Time               `json:"lastEvent"`
	Channels      []CampaignChannelCounts `json:"channels"`
	Days          []CampaignDayCounts     `json:"days"`
}

// erasingCustomers returns the customers whose erase is under way.
func erasingCustomers(tx *badger.Txn) map[string]bool {
	out := map[string]bool{}
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = prefixErasing
	it := tx.NewIterator(opts)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		out[string(it.Item().Key()[len(prefixErasing):])] = true
	}
	return out
}

// addGroup adds b to a.
func addGroup(a *CampaignGroupCounts, b CampaignGroupCounts) {
	a.Targeted += b.Targeted
	a.Contacted += b.Contacted
	a.Presented += b.Presented
	a.Accepted += b.Accepted
	a.Contacts += b.Contacts
	a.Acceptances += b.Acceptances
	a.Cost += b.Cost
	a.Value += b.Value
}

// addErased adds erased customers' counts to the tally: totals, channels and
// days (into the maps, before finish orders and fills them), the bounds of
// the events.
func (t *campaignTally) addErased(a *erasedCounts) {
	addGroup(&t.out.Treatment, a.Treatment)
	addGroup(&t.out.Control, a.Control)
	t.out.Mixed += a.Mixed
	t.out.UnknownOffers += a.UnknownOffers
	if !a.FirstEvent.IsZero() && (t.out.FirstEvent.IsZero() || a.FirstEvent.Before(t.out.FirstEvent)) {
		t.out.FirstEvent = a.FirstEvent
	}
	if a.LastEvent.After(t.out.LastEvent) {
		t.out.LastEvent = a.LastEvent
	}
	for _, c := range a.Channels {
		addGroups(t.channels, c.Channel, c.Treatment, c.Control)
	}
	for _, d := range a.Days {
		addGroups(t.days, d.Day, d.Treatment, d.Control)
	}
}

// addGroups adds a channel's or a day's counts of both groups to m[key].
func addGroups(m map[string]*[2]CampaignGroupCounts, key string, treatment, control CampaignGroupCounts) {
	g := m[key]
	if g == nil {
		g = new([2]CampaignGroupCounts)
		m[key] = g
	}
	addGroup(&g[groupTreatment], treatment)
	addGroup(&g[groupControl], control)
}

// erased returns the tally's counts in their stored form: channels and days
// sorted, no day filled in.
func (t *campaignTally) erased() erasedCounts {
	a := erasedCounts{
		Treatment: t.out.Treatment, Control: t.out.Control,
		Mixed: t.out.Mixed, UnknownOffers: t.out.UnknownOffers,
		FirstEvent: t.out.FirstEvent, LastEvent: t.out.LastEvent,
		Channels: make([]CampaignChannelCounts, 0, len(t.channels)),
		Days:     make([]CampaignDayCounts, 0, len(t.days)),
	}
	for ch, c := range t.channels {
		a.Channels = append(a.Channels, CampaignChannelCounts{Channel: ch, Treatment: c[groupTreatment], Control: c[groupControl]})
	}
	sort.Slice(a.Channels, func(i, j int) bool { return a.Channels[i].Channel < a.Channels[j].Channel })
	for day, c := range t.days {
		a.Days = append(a.Days, CampaignDayCounts{Day: day, Treatment: c[groupTreatment], Control: c[groupControl]})
	}
	sort.Slice(a.Days, func(i, j int) bool { return a.Days[i].Day < a.Days[j].Day })
	return a
}

// countErased counts every event under prefix (one customer's, all of them)
// for each campaign the customer has events of, as the report counts a
// customer, and adds the counts to the campaigns' erased aggregates. It reads
// only the entry's transaction (the ledger and the catalogue as of this
// entry) and writes the aggregates in campaign order, so every node stores
// the same bytes.
func countErased(w *writer, prefix []byte) {
	tallies := map[string]*campaignTally{}
	var campaigns []string // in the order their first event came
	opts := badger.DefaultIteratorOptions
	opts.Prefix = prefix
	it := w.tx.NewIterator(opts)
	for it.Rewind(); it.Valid(); it.Next() {
		ev, ok, err := customerEntry(w.tx, it.Item(), len(prefix))
		if err != nil {
			panic(fmt.Sprintf("fsm: erase: %v", err))
		}
		if !ok {
			continue
		}
		// A campaign's tally starts at the customer's first event of it:
		// before their assignment no event counts for it.
		if c := ev.CampaignID; c != "" && tallies[c] == nil {
			// A campaign the catalogue does not hold (any more) is counted
			// without offers, as the report would count it.
			camp := protocol.Campaign{ID: c}
			if _, err := getCatalogDoc(w.tx, protocol.KindCampaign, c, &camp); err != nil {
				panic(fmt.Sprintf("fsm: erase: %v", err))
			}
			camp.ID = c
			tallies[c] = newCampaignTally(camp)
			campaigns = append(campaigns, c)
		}
		for _, c := range campaigns {
			if err := tallies[c].event(w.tx, &ev); err != nil {
				panic(fmt.Sprintf("fsm: erase: campaign %s: %v", c, err))
			}
		}
	}
	it.Close()
	sort.Strings(campaigns)
	for _, c := range campaigns {
		t := tallies[c]
		t.endCustomer()
		sum := newCampaignTally(protocol.Campaign{ID: c})
		key := erasedCountsKey(c)
		if v, ok := w.get(key); ok {
			var stored erasedCounts
			if err := json.Unmarshal(v, &stored); err != nil {
				panic(fmt.Sprintf("fsm: erased counts of campaign %s: %v", c, err))
			}
			sum.addErased(&stored)
		}
		add := t.erased()
		sum.addErased(&add)
		b, err := json.Marshal(sum.erased())
		if err != nil {
			panic(fmt.Sprintf("fsm: erased counts of campaign %s: %v", c, err))
		}
		w.set(key, b)
	}
}
