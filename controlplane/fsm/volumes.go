package fsm

import (
	"encoding/json"
	"errors"
	"sync"

	badger "github.com/dgraph-io/badger/v4"

	"touchpoint.dev/touchpoint/protocol"
)

// Offer volumes. An offer's volumeCap is the most times it may be
// presented in total, across the fleet. The ledger counts, per offer, the
// contacts stored with outcome presented (o/<offer id>, 8 bytes), in the
// transaction that stores them: a resent event is a duplicate and is not
// counted again, and an erasure (which moves a customer's contacts, it does
// not delete them) leaves the count as it is. The gateway pushes the
// counts of the offers that have a cap to every agent (OfferVolumes).
var prefixVolume = []byte("o/")

func volumeKey(offer string) []byte { return strKey(prefixVolume, offer) }

// countPresented adds the presented contacts of evs to their offers'
// counts.
func countPresented(e *entry, evs []protocol.ContactEvent) {
	var counts map[string]uint64
	for i := range evs {
		if evs[i].Outcome == protocol.OutcomePresented && evs[i].OfferID != "" {
			if counts == nil {
				counts = map[string]uint64{}
			}
			counts[evs[i].OfferID]++
		}
	}
	for offer, n := range counts {
		k := volumeKey(offer)
		if b, ok := e.w.get(k); ok && len(b) == 8 {
			n += u64From(b)
		}
		e.w.set(k, u64(n))
	}
}

// cappedOffers caches the ids of the offers with a volumeCap, for the
// catalogue as of one change index.
type cappedOffers struct {
	mu    sync.Mutex
	index uint64
	ids   []string
	ok    bool
}

// OfferVolumes returns, for every offer of the catalogue with a volumeCap,
// how many times it was presented so far (0 when never): what the gateway
// pushes to agents. It is nil when no offer has a cap.
func (f *FSM) OfferVolumes() (map[string]int64, error) {
	ids, err := f.cappedOfferIDs()
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	out := make(map[string]int64, len(ids))
	err = f.view(func(tx *badger.Txn) error {
		for _, id := range ids {
			it, err := tx.Get(volumeKey(id))
			if errors.Is(err, badger.ErrKeyNotFound) {
				out[id] = 0
				continue
			}
			if err != nil {
				return err
			}
			if err := it.Value(func(v []byte) error {
				if len(v) == 8 {
					out[id] = int64(u64From(v))
				}
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

func (f *FSM) cappedOfferIDs() ([]string, error) {
	c := &f.capped
	c.mu.Lock()
	defer c.mu.Unlock()
	idx := f.LastChange()
	if c.ok && c.index == idx {
		return c.ids, nil
	}
	offers, err := f.List(string(protocol.KindOffer))
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, o := range offers {
		var cap struct {
			VolumeCap int64 `json:"volumeCap"`
		}
		if err := json.Unmarshal(o.Doc, &cap); err == nil && cap.VolumeCap > 0 {
			ids = append(ids, o.ID)
		}
	}
	c.index, c.ids, c.ok = idx, ids, true
	return ids, nil
}
