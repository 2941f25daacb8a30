package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// CustomersDerive stores what a control-plane job computed — segments,
// value tier, lifecycle stage, lifetime value — for a batch of customers.
// Each customer's update replaces the one stored for it as a whole (under
// d/<id>, apart from the profile: the profile is neither read nor
// rewritten); reads overlay it on the profile's own Derived fields. A job
// sends every field it owns for each customer it writes: set, or unset when
// it computed none.
//
// A customer that is not stored is skipped, so a job that read the base
// before an erasure does not bring the customer back. The FSM knows the
// index of the newest erasure: when that is at or below ReadIndex (the
// applied index the job's read of the profiles started from) no customer
// of the batch can have gone since, and the entry writes without looking
// up a single profile.
//
// Like an upsert, every update reaches the agents, as a change of op
// derive carrying the update; an agent applies it to the profile it holds.
type CustomersDerive struct {
	ReadIndex uint64
	Customers []DerivedFields
}

// DerivedFields is one customer's update in a CustomersDerive.
type DerivedFields struct {
	ID string
	protocol.DerivedUpdate
}

// CustomersDeriveResult answers a derive.
type CustomersDeriveResult struct {
	Index   uint64 `json:"index"`
	Updated int    `json:"updated"`
	// Missing counts the customers skipped because they are not stored.
	Missing int `json:"missing"`
}

// deriveVersion is the payload version of CustomersDerive. Layout:
//
//	byte      2 (payload version; 1 is CustomersDeriveV1)
//	uvarint   ReadIndex
//	uvarint   number of field names; each as bytes (the entry's name table)
//	uvarint   number of customers
//	per customer:
//	  bytes   id
//	  uvarint number of fields set; per field: uvarint name number, value
//	  uvarint number of fields unset; per field: uvarint name number
//
// with "bytes" and values as in CustomersUpsert's layout. A job's batch
// names the same few fields for thousands of customers: each name is
// written once.
const deriveVersion = 2

// MarshalBinary encodes the payload. A value that is not a finite float64,
// a bool or a string is an error.
func (p CustomersDerive) MarshalBinary() ([]byte, error) {
	names := map[string]uint64{}
	var table []string
	number := func(k string) uint64 {
		n, ok := names[k]
		if !ok {
			n = uint64(len(table))
			names[k] = n
			table = append(table, k)
		}
		return n
	}
	body := make([]byte, 0, 64*len(p.Customers))
	var err error
	for i := range p.Customers {
		c := &p.Customers[i]
		body = appendBytes(body, c.ID)
		body = binary.AppendUvarint(body, uint64(len(c.Set)))
		for _, k := range sortedKeys(c.Set) {
			body = binary.AppendUvarint(body, number(k))
			if body, err = appendValue(body, k, c.Set[k]); err != nil {
				return nil, fmt.Errorf("customer %d: %w", i, err)
			}
		}
		body = binary.AppendUvarint(body, uint64(len(c.Unset)))
		for _, k := range c.Unset {
			body = binary.AppendUvarint(body, number(k))
		}
	}
	b := make([]byte, 0, len(body)+32+16*len(table))
	b = append(b, deriveVersion)
	b = binary.AppendUvarint(b, p.ReadIndex)
	b = binary.AppendUvarint(b, uint64(len(table)))
	for _, k := range table {
		b = appendBytes(b, k)
	}
	b = binary.AppendUvarint(b, uint64(len(p.Customers)))
	return append(b, body...), nil
}

// UnmarshalBinary decodes what MarshalBinary wrote; any malformed input is
// an error, never a panic.
func (p *CustomersDerive) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != deriveVersion {
		return errors.New("derive payload version")
	}
	r := payloadReader{b: b[1:]}
	p.ReadIndex = r.uvarint()
	table := make([]string, r.count(1))
	for i := range table {
		table[i] = string(r.bytes())
	}
	name := func() string {
		n := r.uvarint()
		if r.err == nil && n >= uint64(len(table)) {
			r.err = fmt.Errorf("field name %d of %d", n, len(table))
		}
		if r.err != nil {
			return ""
		}
		return table[n]
	}
	// Every customer takes at least three bytes.
	p.Customers = make([]DerivedFields, r.count(3))
	for i := range p.Customers {
		c := &p.Customers[i]
		c.ID = string(r.bytes())
		if n := r.count(2); n > 0 {
			c.Set = make(map[string]any, n)
			for range n {
				k := name()
				v := r.value(k)
				if r.err != nil {
					break
				}
				c.Set[k] = v
			}
		}
		if n := r.count(1); n > 0 {
			c.Unset = make([]string, n)
			for j := range c.Unset {
				c.Unset[j] = name()
			}
		}
		if r.err != nil {
			break
		}
	}
	if r.err != nil {
		return fmt.Errorf("derive payload: %w", r.err)
	}
	if len(r.b) != 0 {
		return fmt.Errorf("derive payload: %d trailing bytes", len(r.b))
	}
	return nil
}

func derivedKey(id string) []byte { return strKey(prefixDerived, id) }

// deriveBatchRecord is the first byte of a change record holding a derive
// entry's updates (a CustomersDerive payload of the customers it wrote);
// the other change records are JSON objects.
const deriveBatchRecord = 0x02

// deriveChanges expands a derive batch record at index into the changes
// the feed hands out: one of op derive per customer, carrying the update.
func deriveChanges(index uint64, rec []byte) ([]api.Change, error) {
	var p CustomersDerive
	if err := p.UnmarshalBinary(rec[1:]); err != nil {
		return nil, fmt.Errorf("derive change record at %d: %w", index, err)
	}
	out := make([]api.Change, len(p.Customers))
	for i := range p.Customers {
		c := &p.Customers[i]
		out[i] = api.Change{Index: index, Op: api.OpDerive, Kind: KindCustomer, ID: c.ID, Doc: c.AppendJSON(nil)}
	}
	return out, nil
}

// dropFromDeriveRecord returns rec without customer id's update (an
// erasure takes the id out of the feed) and how many updates it keeps.
func dropFromDeriveRecord(rec []byte, id string) ([]byte, int) {
	var p CustomersDerive
	if err := p.UnmarshalBinary(rec[1:]); err != nil {
		panic(fmt.Sprintf("fsm: stored derive change record: %v", err))
	}
	kept := p.Customers[:0]
	for _, c := range p.Customers {
		if c.ID != id {
			kept = append(kept, c)
		}
	}
	if len(kept) == len(p.Customers) {
		return rec, len(kept)
	}
	p.Customers = kept
	b, err := p.MarshalBinary()
	if err != nil {
		panic(fmt.Sprintf("fsm: re-encode a stored derive change record: %v", err))
	}
	return append([]byte{deriveBatchRecord}, b...), len(kept)
}

func applyCustomersDerive(e *entry) (any, *api.Error) {
	if len(e.cmd.Payload) > MaxCustomersPayload {
		return nil, api.Errorf(api.CodeBodyTooLarge, "customer derive of %d bytes; the limit is %d", len(e.cmd.Payload), MaxCustomersPayload)
	}
	if len(e.cmd.Payload) > 0 && e.cmd.Payload[0] == customersVersion {
		return applyCustomersDeriveV1(e)
	}
	var p CustomersDerive
	if err := p.UnmarshalBinary(e.cmd.Payload); err != nil {
		return nil, api.Errorf(api.CodeBadRequest, "%v", err)
	}
	if len(p.Customers) > MaxCustomersPerUpsert {
		return nil, api.Errorf(api.CodeBadRequest, "%d customers in one derive; the limit is %d", len(p.Customers), MaxCustomersPerUpsert)
	}
	// Check and encode everything before writing anything; the values
	// share one buffer (badger holds them until commit).
	size := 0
	for i := range p.Customers {
		c := &p.Customers[i]
		if !protocol.ValidAgentID(c.ID) {
			return nil, (&api.Error{Code: api.CodeInvalidField, Field: "id", Message: fmt.Sprintf("customer id %q is not valid", c.ID)}).InDocument(i, "")
		}
		if err := c.Validate(c.ID); err != nil {
			return nil, api.Errorf(api.CodeInvalidField, "%v", err).InDocument(i, "")
		}
		size += 16 + updateJSONSize(&c.DerivedUpdate)
	}
	if writes := 2*size + 128*len(p.Customers); writes > maxCustomerWrites {
		return nil, api.Errorf(api.CodeBodyTooLarge, "customer derive would write %d bytes; the limit is %d: send fewer customers", writes, maxCustomerWrites)
	}
	// Only an erasure after the job's read can have removed a customer of
	// the batch.
	written := p.Customers
	if v, ok := e.w.get(keyLastErase); ok && (len(v) != 8 || binary.BigEndian.Uint64(v) > p.ReadIndex) {
		written = slices.DeleteFunc(slices.Clone(written), func(c DerivedFields) bool { return !e.w.has(profileKey(c.ID)) })
	}
	arena := make([]byte, 0, size)
	for i := range written {
		c := &written[i]
		start := len(arena)
		arena = binary.BigEndian.AppendUint64(arena, e.index)
		arena = c.AppendJSON(arena)
		e.w.set(derivedKey(c.ID), arena[start:len(arena):len(arena)])
	}
	updated, missing := len(written), len(p.Customers)-len(written)
	if updated > 0 {
		// One change record for the entry: the payload, which the feed
		// hands out as a change of op derive per customer (a fifth of the
		// bytes of a JSON record each, and one key instead of thousands).
		rec := append([]byte{deriveBatchRecord}, e.cmd.Payload...)
		if missing > 0 {
			b, err := CustomersDerive{ReadIndex: p.ReadIndex, Customers: written}.MarshalBinary()
			if err != nil {
				panic(fmt.Sprintf("fsm: re-encode a checked derive: %v", err))
			}
			rec = append([]byte{deriveBatchRecord}, b...)
		}
		e.putChange(rec)
	}
	e.addAudit("customers.derive", fmt.Sprintf("%d customers", len(p.Customers)),
		fmt.Sprintf("%d updated, %d not stored", updated, missing))
	return CustomersDeriveResult{Index: e.index, Updated: updated, Missing: missing}, nil
}

// updateJSONSize is about the size of u's JSON, for sizing buffers.
func updateJSONSize(u *protocol.DerivedUpdate) int {
	n := 24
	for k, v := range u.Set {
		n += len(k) + 28
		if s, ok := v.(string); ok {
			n += 2 * len(s)
		}
	}
	for _, k := range u.Unset {
		n += len(k) + 4
	}
	return n
}

// storedDerived decodes a stored d/ value: the index it was written at and
// the update.
func storedDerived(v []byte) (uint64, protocol.DerivedUpdate, error) {
	if len(v) < 8 {
		return 0, protocol.DerivedUpdate{}, fmt.Errorf("stored derived fields of %d bytes", len(v))
	}
	u, err := protocol.DecodeDerivedUpdate(v[8:])
	return binary.BigEndian.Uint64(v), u, err
}

// overlayDerived applies a stored d/ value to p: its fields over p's own,
// and p's index the later of the two.
func overlayDerived(p *protocol.Profile, v []byte) error {
	idx, u, err := storedDerived(v)
	if err != nil {
		return fmt.Errorf("customer %s: %w", p.ID, err)
	}
	u.ApplyTo(p)
	p.Index = max(p.Index, idx)
	return nil
}

// storedProfile decodes a stored profile inside Apply, where one that does
// not decode is a broken invariant.
func storedProfile(v []byte) *protocol.Profile {
	p, err := decodeProfile("", v)
	if err != nil {
		panic(fmt.Sprintf("fsm: %v", err))
	}
	return &p
}
