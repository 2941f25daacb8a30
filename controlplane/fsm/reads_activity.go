package fsm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"touchpoint.dev/touchpoint/protocol"
)

// Activity is one customer's contact ledger summed up for segmentation and
// lifetime value. Purchases are the customer's events of type transaction
// (not holdouts); an event's value is the amount spent. Two transactions on
// the same UTC day are one purchase, as in the lifetime-value literature.
type Activity struct {
	Transactions int
	Spend        float64
	// PurchaseDays counts distinct UTC days with a transaction;
	// FirstPurchase and LastPurchase are the first and the last of them
	// (midnight UTC).
	PurchaseDays  int
	FirstPurchase time.Time
	LastPurchase  time.Time
	// RepeatSpend is the spend on purchase days after the first.
	RepeatSpend float64
	// LastContact is the time of the customer's newest event of any type
	// and outcome but holdout (a holdout is not contact).
	LastContact time.Time
}

// Activities reads the whole contact ledger once, through its customer
// index (each customer's events in time order), and sums it up per
// customer from the events before asOf (every event when asOf is zero): a
// segmentation run as of a past date sees the ledger as it stood then. An
// event at asOf itself is left out, so that as of a date's midnight that
// day is left out whole, purchases imported with the date (stamped at its
// midnight) included; counted, a first purchase there would have age 0,
// which no lifetime-value model fits. Customers without such an event (but holdouts) are left out. It is
// a job's read: the leader's segmentation run calls it once per run.
func (f *FSM) Activities(asOf time.Time) (map[string]Activity, error) {
	return SumActivities(f.EachContact, asOf)
}

// SumActivities is Activities over any ledger that each walks as
// EachContact does (customer by customer, each in time order).
func SumActivities(each func(fn func(ev *protocol.ContactEvent) error) error, asOf time.Time) (map[string]Activity, error) {
	out := map[string]Activity{}
	var (
		cur     string
		a       Activity
		counted bool  // a holds an event of cur
		last    int64 // cur's last purchase day
	)
	flush := func() {
		if counted {
			out[cur] = a
		}
	}
	err := each(func(ev *protocol.ContactEvent) error {
		if ev.CustomerID != cur {
			flush()
			cur, a, counted, last = ev.CustomerID, Activity{}, false, 0
		}
		if ev.Outcome == protocol.OutcomeHoldout || !asOf.IsZero() && !ev.Time.Before(asOf) {
			return nil
		}
		counted = true
		if ev.Time.After(a.LastContact) {
			a.LastContact = ev.Time
		}
		if ev.Type != protocol.ContactTransaction {
			return nil
		}
		a.Transactions++
		a.Spend += ev.Value
		day := ev.Time.UTC().Truncate(24 * time.Hour)
		switch {
		case a.PurchaseDays == 0:
			a.PurchaseDays, a.FirstPurchase, a.LastPurchase, last = 1, day, day, day.Unix()
		case day.Unix() != last:
			a.PurchaseDays++
			a.LastPurchase, last = day, day.Unix()
			a.RepeatSpend += ev.Value
		case a.PurchaseDays > 1:
			a.RepeatSpend += ev.Value // another transaction on a repeat day
		}
		return nil
	})
	flush()
	return out, err
}

// EachContact calls fn with every event of the contact ledger, customer
// by customer (in the customer index's order: by id length, then id) and
// each customer's in time order, until fn returns an error. Erased
// customers' events (ErasedCustomer) are skipped. ev is reused: fn copies
// what it keeps.
func (f *FSM) EachContact(fn func(ev *protocol.ContactEvent) error) error {
	return f.view(func(tx *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefixCustomer
		it := tx.NewIterator(opts)
		defer it.Close()
		var ev protocol.ContactEvent
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()[len(prefixCustomer):]
			if len(k) < 2 {
				continue
			}
			n := int(binary.BigEndian.Uint16(k))
			if len(k) < 2+n {
				continue
			}
			id := k[2 : 2+n]
			if string(id) == ErasedCustomer {
				continue
			}
			var ok bool
			var err error
			if ev, ok, err = customerEntry(tx, it.Item(), len(prefixCustomer)+2+n); err != nil {
				return fmt.Errorf("customer %s: %w", id, err)
			}
			if !ok {
				continue
			}
			if err := fn(&ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// EachProfile calls fn with every stored profile, in id order, until fn
// returns an error. The profile is fn's to keep. Each profile comes with
// what jobs computed for it (d/, read alongside in the same id order).
//
// It is a job's read of the whole base: one goroutine walks the keys and
// copies the values out in chunks, two decode the chunks (decoding is most
// of the cost), and fn gets them back in order.
func (f *FSM) EachProfile(fn func(p *protocol.Profile) error) error {
	type decoded struct {
		ps  []*protocol.Profile
		err error
	}
	type chunk struct {
		raw, derived [][]byte // derived[i] is raw[i]'s d/ value, or nil
		out          chan decoded
	}
	const chunkSize, decoders = 512, 2
	work := make(chan *chunk, 2*decoders)
	ordered := make(chan *chunk, 2*decoders)
	stop := make(chan struct{})
	var readErr error
	go func() {
		defer close(work)
		defer close(ordered)
		readErr = f.view(func(tx *badger.Txn) error {
			it := tx.NewIterator(badger.IteratorOptions{Prefix: prefixProfile})
			defer it.Close()
			dit := tx.NewIterator(badger.IteratorOptions{Prefix: prefixDerived})
			defer dit.Close()
			dit.Rewind()
			c := &chunk{out: make(chan decoded, 1)}
			send := func() bool {
				select {
				case work <- c:
				case <-stop:
					return false
				}
				ordered <- c // buffered like work: never blocks for long
				c = &chunk{out: make(chan decoded, 1)}
				return true
			}
			for it.Rewind(); it.Valid(); it.Next() {
				v, err := it.Item().ValueCopy(nil)
				if err != nil {
					return err
				}
				// Both families are in id order; a d/ key of an id
				// before this one belongs to no profile.
				var dv []byte
				id := it.Item().Key()[len(prefixProfile):]
				for ; dit.Valid(); dit.Next() {
					if c := bytes.Compare(dit.Item().Key()[len(prefixDerived):], id); c > 0 {
						break
					} else if c == 0 {
						if dv, err = dit.Item().ValueCopy(nil); err != nil {
							return err
						}
						dit.Next()
						break
					}
				}
				c.raw, c.derived = append(c.raw, v), append(c.derived, dv)
				if len(c.raw) == chunkSize && !send() {
					return nil
				}
			}
			if len(c.raw) > 0 {
				send()
			}
			return nil
		})
	}()
	for range decoders {
		go func() {
			for c := range work {
				d := decoded{ps: make([]*protocol.Profile, len(c.raw))}
				for i, v := range c.raw {
					p, err := decodeProfile("", v)
					if err == nil && c.derived[i] != nil {
						err = overlayDerived(&p, c.derived[i])
					}
					if err != nil {
						d.err = err
						break
					}
					d.ps[i] = &p
				}
				c.out <- d
			}
		}()
	}
	var fnErr error
	for c := range ordered {
		d := <-c.out
		if fnErr != nil {
			continue
		}
		if fnErr = d.err; fnErr != nil {
			close(stop)
			continue
		}
		for _, p := range d.ps {
			if fnErr = fn(p); fnErr != nil {
				close(stop)
				break
			}
		}
	}
	if fnErr != nil {
		return fnErr
	}
	return readErr
}
