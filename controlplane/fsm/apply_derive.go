package fsm

import (
	"encoding/binary"
	"fmt"
	"maps"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// CustomersDerive sets fields the control plane computes — segments, value
// tier, lifecycle stage, lifetime value — on stored profiles. Each
// profile's Derived fields replace the stored derived fields of the same
// name; the stored profile's other derived fields, its attributes,
// consents and region stay. A customer that is not stored is skipped (a
// job that read the base before an erasure does not bring the customer
// back). Only ID and Derived of each profile are read. The payload is
// CustomersUpsert's binary layout; like an upsert, every change reaches the
// agents that hold the customer.
type CustomersDerive struct {
	Profiles []protocol.Profile
}

// MarshalBinary encodes the payload (CustomersUpsert's layout).
func (p CustomersDerive) MarshalBinary() ([]byte, error) {
	return CustomersUpsert(p).MarshalBinary()
}

// UnmarshalBinary decodes what MarshalBinary wrote.
func (p *CustomersDerive) UnmarshalBinary(b []byte) error {
	return (*CustomersUpsert)(p).UnmarshalBinary(b)
}

// CustomersDeriveResult answers a derive.
type CustomersDeriveResult struct {
	Index   uint64 `json:"index"`
	Updated int    `json:"updated"`
	// Missing counts the profiles skipped because the customer is not
	// stored.
	Missing int `json:"missing"`
}

func applyCustomersDerive(e *entry) (any, *api.Error) {
	if len(e.cmd.Payload) > MaxCustomersPayload {
		return nil, api.Errorf(api.CodeBodyTooLarge, "customer derive of %d bytes; the limit is %d", len(e.cmd.Payload), MaxCustomersPayload)
	}
	var p CustomersDerive
	if err := p.UnmarshalBinary(e.cmd.Payload); err != nil {
		return nil, api.Errorf(api.CodeBadRequest, "%v", err)
	}
	if len(p.Profiles) > MaxCustomersPerUpsert {
		return nil, api.Errorf(api.CodeBadRequest, "%d profiles in one derive; the limit is %d", len(p.Profiles), MaxCustomersPerUpsert)
	}
	// Merge and check everything before writing anything.
	merged := make([]*protocol.Profile, len(p.Profiles))
	size, missing := 0, 0
	for i := range p.Profiles {
		d := &p.Profiles[i]
		if !protocol.ValidAgentID(d.ID) {
			return nil, (&api.Error{Code: api.CodeInvalidField, Field: "id", Message: fmt.Sprintf("customer id %q is not valid", d.ID)}).InDocument(i, "")
		}
		prev, ok := e.w.get(profileKey(d.ID))
		if !ok {
			missing++
			continue
		}
		stored := storedProfile(prev)
		if stored.Derived == nil {
			stored.Derived = make(map[string]any, len(d.Derived))
		}
		maps.Copy(stored.Derived, d.Derived)
		stored.Index = e.index
		if err := stored.Validate(); err != nil {
			return nil, api.Errorf(api.CodeInvalidField, "%v", err).InDocument(i, "")
		}
		if err := checkText(stored); err != nil {
			return nil, api.Errorf(api.CodeInvalidField, "%v", err).InDocument(i, "")
		}
		merged[i] = stored
		size += 8 + protocol.ProfileJSONSize(stored)
	}
	if 2*size > maxCustomerWrites {
		return nil, api.Errorf(api.CodeBodyTooLarge, "customer derive would write %d bytes; the limit is %d: send fewer profiles", 2*size, maxCustomerWrites)
	}
	arena := make([]byte, 0, size)
	changes := make([]byte, 0, size+128*len(merged))
	updated := 0
	for _, pr := range merged {
		if pr == nil {
			continue
		}
		start := len(arena)
		arena = binary.BigEndian.AppendUint64(arena, e.index)
		arena = protocol.AppendProfileJSON(arena, pr)
		doc := arena[start:len(arena):len(arena)]
		e.w.set(profileKey(pr.ID), doc)
		changes = e.addCustomerChange(changes, api.OpPut, pr.ID, pr.Region, doc[8:])
		updated++
	}
	e.addAudit("customers.derive", fmt.Sprintf("%d profiles", len(p.Profiles)),
		fmt.Sprintf("%d updated, %d not stored", updated, missing))
	return CustomersDeriveResult{Index: e.index, Updated: updated, Missing: missing}, nil
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
