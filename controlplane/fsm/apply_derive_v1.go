package fsm

import (
	"encoding/binary"
	"fmt"
	"maps"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// CustomersDeriveV1 is the first version of CustomersDerive's payload
// (CustomersUpsert's binary layout, version byte 1), kept so a Raft log
// written before version 2 replays as it applied: each profile's Derived
// fields were merged into the stored profile itself, which was decoded and
// re-encoded for it.
type CustomersDeriveV1 struct {
	Profiles []protocol.Profile
}

// MarshalBinary encodes the payload (CustomersUpsert's layout).
func (p CustomersDeriveV1) MarshalBinary() ([]byte, error) {
	return CustomersUpsert(p).MarshalBinary()
}

// UnmarshalBinary decodes what MarshalBinary wrote.
func (p *CustomersDeriveV1) UnmarshalBinary(b []byte) error {
	return (*CustomersUpsert)(p).UnmarshalBinary(b)
}

func applyCustomersDeriveV1(e *entry) (any, *api.Error) {
	var p CustomersDeriveV1
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
