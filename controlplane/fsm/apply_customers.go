package fsm

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"unicode/utf8"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// Customer profiles. A profile at rest is p/<id> → the index of its last
// write (8 bytes) and its JSON (protocol.Profile with Index set, exactly
// what json.Marshal writes); s/<region>/<id> lists a region's customers in
// id order for the agents' prefetch (g/, the letter first planned for it,
// is the agent registry's). Every upsert and erase also writes a
// change record of kind Customer, with the region, so agents update or drop
// their copy.
//
// Erasure deletes the profile, its region entry and the change record of
// its last write, and moves the customer's contact-ledger events to the one
// anonymous id every erased customer shares (ErasedCustomer): counts and
// agents' sequence marks stay right, but no event names the customer any
// more, and nothing links the moved events to the erased id (a per-customer
// anonymous id would be linkable through the audit log). Campaign results
// stay right because the erase first adds the customer's campaign counts to
// the campaigns' erased aggregates (erased_counts.go): the report counts
// those instead of the ErasedCustomer events.

// KindCustomer is the change-feed kind of a customer profile.
const KindCustomer = "Customer"

// Upsert limits, checked identically on every node.
const (
	// MaxCustomersPayload bounds one upsert's binary payload.
	MaxCustomersPayload = 3 << 20
	// MaxCustomersPerUpsert bounds the profiles of one entry.
	MaxCustomersPerUpsert = 5000
	// maxCustomerWrites bounds what one upsert writes (profiles and change
	// records), so that it fits a badger transaction.
	maxCustomerWrites = 8 << 20
)

// maxEraseEvents bounds the ledger events one erase moves; the rest are
// moved by continuations. A variable only so that tests can lower it.
var maxEraseEvents = 20_000

// ErasedCustomer is the customer id of every erased customer's ledger
// events. It is not a valid customer id, so no profile can take it.
const ErasedCustomer = "~erased"

func profileKey(id string) []byte { return strKey(prefixProfile, id) }

func regionKey(region, id string) []byte {
	k := make([]byte, 0, len(prefixRegion)+len(region)+1+len(id))
	k = append(k, prefixRegion...)
	k = append(k, region...)
	k = append(k, '/')
	return append(k, id...)
}

func regionPrefix(region string) []byte {
	return append(append(append([]byte{}, prefixRegion...), region...), '/')
}

// checkText refuses strings that JSON would not carry as they are.
func checkText(p *protocol.Profile) error {
	for _, m := range []map[string]any{p.Attributes, p.Derived} {
		for k, v := range m {
			if s, ok := v.(string); ok && !utf8.ValidString(s) {
				return fmt.Errorf("customer %s: attribute %s is not valid UTF-8", p.ID, k)
			}
		}
	}
	return nil
}

func applyCustomersUpsert(e *entry) (any, *api.Error) {
	if len(e.cmd.Payload) > MaxCustomersPayload {
		return nil, api.Errorf(api.CodeBodyTooLarge, "customer upsert of %d bytes; the limit is %d", len(e.cmd.Payload), MaxCustomersPayload)
	}
	var p CustomersUpsert
	if err := p.UnmarshalBinary(e.cmd.Payload); err != nil {
		return nil, api.Errorf(api.CodeBadRequest, "%v", err)
	}
	if len(p.Profiles) > MaxCustomersPerUpsert {
		return nil, api.Errorf(api.CodeBadRequest, "%d profiles in one upsert; the limit is %d", len(p.Profiles), MaxCustomersPerUpsert)
	}
	// Check and encode everything before writing anything. The values of
	// the whole entry share one buffer (badger holds them until commit).
	// Each stored profile is read and decoded once, here; a profile whose
	// id came earlier in the batch replaces that earlier one instead.
	// Derived fields (segments, lifetime value: computed by the control
	// plane) are kept unless the upsert brings its own.
	size := 0
	type prior struct {
		exists bool
		region string // whose region key the write replaces
	}
	priors := make([]prior, len(p.Profiles))
	seen := make(map[string]int, len(p.Profiles))
	for i := range p.Profiles {
		pr := &p.Profiles[i]
		var kept map[string]any
		if j, dup := seen[pr.ID]; dup {
			priors[i], kept = prior{true, p.Profiles[j].Region}, p.Profiles[j].Derived
		} else if prev, ok := e.w.get(profileKey(pr.ID)); ok {
			stored := storedProfile(prev)
			priors[i], kept = prior{true, stored.Region}, stored.Derived
		}
		seen[pr.ID] = i
		if len(pr.Derived) == 0 {
			pr.Derived = kept
		}
		if err := pr.Validate(); err != nil {
			return nil, api.Errorf(api.CodeInvalidField, "%v", err).InDocument(i, "")
		}
		if err := checkText(pr); err != nil {
			return nil, api.Errorf(api.CodeInvalidField, "%v", err).InDocument(i, "")
		}
		pr.Index = e.index
		size += 8 + protocol.ProfileJSONSize(pr)
	}
	arena := make([]byte, 0, size)
	docs := make([][]byte, len(p.Profiles))
	writes := 0
	for i := range p.Profiles {
		pr := &p.Profiles[i]
		start := len(arena)
		arena = binary.BigEndian.AppendUint64(arena, e.index)
		arena = protocol.AppendProfileJSON(arena, pr)
		docs[i] = arena[start:len(arena):len(arena)]
		writes += 2*len(docs[i]) + 3*len(pr.ID) + len(pr.Region) + 128
	}
	if writes > maxCustomerWrites {
		return nil, api.Errorf(api.CodeBodyTooLarge, "customer upsert would write %d bytes; the limit is %d: send fewer profiles", writes, maxCustomerWrites)
	}
	created := 0
	changes := make([]byte, 0, writes/2)
	for i := range p.Profiles {
		pr := &p.Profiles[i]
		key := profileKey(pr.ID)
		if priors[i].exists {
			if old := priors[i].region; old != pr.Region {
				e.w.del(regionKey(old, pr.ID))
			}
		} else {
			created++
		}
		// docs[i] is the stored value: the index, then the JSON.
		e.w.set(key, docs[i])
		e.w.set(regionKey(pr.Region, pr.ID), nil)
		doc := docs[i][8:]
		if priors[i].exists {
			// Agents replace the profile they hold with the change's: it
			// carries what jobs computed for the customer too.
			if v, ok := e.w.get(derivedKey(pr.ID)); ok {
				withDerived := *pr
				withDerived.Derived = maps.Clone(pr.Derived)
				if err := overlayDerived(&withDerived, v); err != nil {
					panic(fmt.Sprintf("fsm: %v", err))
				}
				doc = protocol.AppendProfileJSON(nil, &withDerived)
			}
		}
		changes = e.addCustomerChange(changes, api.OpPut, pr.ID, pr.Region, doc)
	}
	// One audit record per batch, without ids or any other personal data.
	e.addAudit("customers.import", fmt.Sprintf("%d profiles", len(p.Profiles)),
		fmt.Sprintf("%d new, %d replaced", created, len(p.Profiles)-created))
	return CustomersResult{Index: e.index, Upserted: len(p.Profiles), Created: created}, nil
}

func applyCustomerErase(e *entry) (any, *api.Error) {
	p, aerr := decodePayload[CustomerErase](e)
	if aerr != nil {
		return nil, aerr
	}
	if !protocol.ValidAgentID(p.ID) {
		return nil, &api.Error{Code: api.CodeInvalidField, Field: "id", Message: fmt.Sprintf("customer id %q: 1 to 128 ASCII letters, digits, '-', '_' or '.'", p.ID)}
	}
	prefix := customerPrefix(p.ID)
	events := e.w.keys(prefix, maxEraseEvents+1)
	prev, found := e.w.get(profileKey(p.ID))
	if !found && len(events) == 0 {
		return nil, api.Errorf(api.CodeNotFound, "customer %q does not exist", p.ID)
	}
	res := CustomerEraseResult{Index: e.index, Profile: found}
	// The customer's campaign counts go to the erased aggregates once, over
	// all their events, before any moves: by the first entry of an erase.
	// While continuations move the rest, e/p/<id> says the rest is counted
	// already (the report skips it); the entry that moves the last events
	// deletes it.
	erasing := e.w.has(erasingKey(p.ID))
	if !erasing && len(events) > 0 {
		countErased(e.w, prefix)
	}
	if found {
		idx, _, err := decodeObject(prev)
		if err != nil {
			panic(fmt.Sprintf("fsm: stored profile: %v", err))
		}
		region := storedProfile(prev).Region
		e.w.del(profileKey(p.ID))
		e.w.del(regionKey(region, p.ID))
		dropCustomerChange(e.w, idx, p.ID)
		if v, ok := e.w.get(derivedKey(p.ID)); ok && len(v) >= 8 {
			e.w.del(derivedKey(p.ID))
			dropCustomerChange(e.w, binary.BigEndian.Uint64(v), p.ID)
		}
		e.addCustomerChange(nil, api.OpDelete, p.ID, region, nil)
		// A job's derive entry that read the base before now looks up
		// each customer before writing (apply_derive.go).
		e.w.set(keyLastErase, u64(e.index))
	}
	switch {
	case len(events) > maxEraseEvents:
		events, res.More = events[:maxEraseEvents], true
		if !erasing {
			e.w.set(erasingKey(p.ID), nil)
		}
	case erasing:
		e.w.del(erasingKey(p.ID))
	}
	to := customerPrefix(ErasedCustomer)
	for _, k := range events {
		rest := k[len(prefix):]
		if len(rest) < 8+1+8 {
			continue
		}
		v, _ := e.w.get(k)
		if len(v) == 0 {
			// Written by an earlier version: the event itself is under v/.
			agent := string(rest[8 : len(rest)-9])
			ek := eventKey(agent, u64From(rest[len(rest)-8:]))
			old, ok := e.w.get(ek)
			if !ok {
				panic(fmt.Sprintf("fsm: ledger key %q without its event", k))
			}
			v = old
			e.w.del(ek)
		}
		ev, err := decodeStoredEvent("", v)
		if err != nil {
			panic(fmt.Sprintf("fsm: stored event %q: %v", k, err))
		}
		ev.CustomerID = ErasedCustomer
		e.w.del(k)
		e.w.set(append(append([]byte{}, to...), rest...), encodeStoredEvent(&ev))
		res.Anonymized++
	}
	// The audit log names the erased id (what was erased, and by whom), and
	// nothing else about the customer.
	e.addAudit("customers.erase", p.ID, fmt.Sprintf("%d ledger events anonymised", res.Anonymized))
	return res, nil
}

// dropCustomerChange deletes the change record that carried customer id's
// profile at index idx (the records of earlier writes age out with the
// feed's retention).
func dropCustomerChange(w *writer, idx uint64, id string) {
	prefix := append(append([]byte{}, prefixChange...), u64(idx)...)
	for _, k := range w.keys(prefix, 0) {
		v, ok := w.get(k)
		if !ok {
			continue
		}
		if len(v) > 0 && v[0] == deriveBatchRecord {
			switch rest, left := dropFromDeriveRecord(v, id); {
			case left == 0:
				w.del(k)
			case len(rest) != len(v):
				w.set(k, rest)
			}
			continue
		}
		var c struct {
			Kind string `json:"kind"`
			ID   string `json:"id"`
		}
		if json.Unmarshal(v, &c) == nil && c.Kind == KindCustomer && c.ID == id {
			w.del(k)
		}
	}
}

// addCustomerChange records an api.Change of kind Customer with its region,
// assembled by hand like addChange. The record is appended to buf (which
// badger holds until commit: buf is never rewritten), and buf returned.
func (e *entry) addCustomerChange(buf []byte, op, id, region string, doc []byte) []byte {
	start := len(buf)
	b := buf
	b = append(b, `{"index":`...)
	b = strconv.AppendUint(b, e.index, 10)
	b = append(b, `,"op":`...)
	b = appendJSONString(b, op)
	b = append(b, `,"kind":"`+KindCustomer+`","id":`...)
	b = appendJSONString(b, id)
	if region != "" {
		b = append(b, `,"region":`...)
		b = appendJSONString(b, region)
	}
	if len(doc) > 0 {
		b = append(b, `,"doc":`...)
		b = append(b, doc...)
	}
	b = append(b, '}')
	e.putChange(b[start:len(b):len(b)])
	return b
}
