package fsm

import (
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
	err := f.view(func(tx *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefixCustomer
		it := tx.NewIterator(opts)
		defer it.Close()
		var (
			cur  string
			a    Activity
			last int64 // the current customer's last purchase day
		)
		flush := func() {
			if cur != "" && cur != ErasedCustomer {
				out[cur] = a
			}
		}
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()[len(prefixCustomer):]
			if len(k) < 2 {
				continue
			}
			n := int(binary.BigEndian.Uint16(k))
			if len(k) < 2+n {
				continue
			}
			if id := k[2 : 2+n]; string(id) != cur {
				flush()
				cur, a, last = string(id), Activity{}, 0
			}
			ev, ok, err := customerEntry(tx, it.Item(), len(prefixCustomer)+2+n)
			if err != nil {
				return fmt.Errorf("customer %s: %w", cur, err)
			}
			if !ok || ev.Outcome == protocol.OutcomeHoldout {
				continue
			}
			if ev.Time.After(a.LastContact) {
				a.LastContact = ev.Time
			}
			if ev.Type != protocol.ContactTransaction {
				continue
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
		}
		flush()
		return nil
	})
	return out, err
}

// EachProfile calls fn with every stored profile, in id order, until fn
// returns an error. The profile is fn's to keep.
func (f *FSM) EachProfile(fn func(p *protocol.Profile) error) error {
	return f.view(func(tx *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefixProfile
		it := tx.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var p *protocol.Profile
			if err := it.Item().Value(func(v []byte) error {
				p = storedProfile(v)
				return nil
			}); err != nil {
				return err
			}
			if err := fn(p); err != nil {
				return err
			}
		}
		return nil
	})
}
