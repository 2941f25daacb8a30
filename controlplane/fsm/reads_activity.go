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
// customer. It is a job's read: the leader's segmentation run calls it
// once per run.
func (f *FSM) Activities() (map[string]Activity, error) {
	out := map[string]Activity{}
	var (
		cur  string
		a    Activity
		last int64 // the current customer's last purchase day
	)
	flush := func() {
		if cur != "" {
			out[cur] = a
		}
	}
	err := f.EachContact(func(ev *protocol.ContactEvent) error {
		if ev.CustomerID != cur {
			flush()
			cur, a, last = ev.CustomerID, Activity{}, 0
		}
		if ev.Outcome == protocol.OutcomeHoldout {
			return nil
		}
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
func (f *FSM) EachProfile(fn func(p *protocol.Profile) error) error {
	return f.view(func(tx *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefixProfile
		it := tx.NewIterator(opts)
		defer it.Close()
		dopts := badger.DefaultIteratorOptions
		dopts.Prefix = prefixDerived
		dit := tx.NewIterator(dopts)
		defer dit.Close()
		dit.Rewind()
		for it.Rewind(); it.Valid(); it.Next() {
			var p *protocol.Profile
			if err := it.Item().Value(func(v []byte) error {
				p = storedProfile(v)
				return nil
			}); err != nil {
				return err
			}
			// Both families are in id order: d/ keys of ids before this
			// one belong to no profile (none should exist).
			id := it.Item().Key()[len(prefixProfile):]
			for ; dit.Valid(); dit.Next() {
				did := dit.Item().Key()[len(prefixDerived):]
				if c := bytes.Compare(did, id); c > 0 {
					break
				} else if c == 0 {
					if err := dit.Item().Value(func(v []byte) error { return overlayDerived(p, v) }); err != nil {
						return err
					}
					dit.Next()
					break
				}
			}
			if err := fn(p); err != nil {
				return err
			}
		}
		return nil
	})
}
