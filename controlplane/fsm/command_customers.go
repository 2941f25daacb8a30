package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"touchpoint.dev/touchpoint/protocol"
)

// CustomersUpsert commits a batch of customer profiles as one entry. Each
// profile replaces the stored profile of its id as a whole (attributes that
// are not in the new profile are gone); a later profile of the same id in
// the batch wins. Index is ignored: the FSM sets it to the entry's index.
type CustomersUpsert struct {
	Profiles []protocol.Profile
}

// CustomerErase removes one customer: the profile, its index entries, and
// the customer id from the contact ledger (the events stay, under
// ErasedCustomer).
type CustomerErase struct {
	ID string `json:"id"`
}

// CustomersResult answers an upsert.
type CustomersResult struct {
	Index    uint64 `json:"index"`
	Upserted int    `json:"upserted"`
	Created  int    `json:"created"`
}

// CustomerEraseResult answers an erase.
type CustomerEraseResult struct {
	Index uint64 `json:"index"`
	// Profile is set when a profile was deleted (not on a continuation).
	Profile bool `json:"profile"`
	// Anonymized counts the ledger events this entry moved to
	// ErasedCustomer; More is set when some are left, for another erase of
	// the same id to move.
	Anonymized int  `json:"anonymized"`
	More       bool `json:"more,omitempty"`
}

// CustomersUpsert's payload is binary: a million-profile import is hundreds
// of entries of thousands of profiles, and every node decodes each one.
// Layout, version 1:
//
//	byte      1 (payload version)
//	uvarint   number of profiles
//	per profile:
//	  bytes id, bytes region
//	  byte    flags (bit 0: do not disturb)
//	  uvarint number of consents; per consent: bytes channel, byte 0 or 1
//	  uvarint number of attributes; per attribute: bytes name, value
//	  uvarint number of derived fields; each as an attribute
//	value: 'n' and 8 bytes IEEE 754 big endian (finite) | 't' | 'f' |
//	       's' and bytes
//
// where "bytes" is a uvarint length followed by that many bytes. Names are
// written in sorted order, so one batch always encodes to the same bytes.
const customersVersion = 1

// Value tags of the binary profile.
const (
	tagNumber = 'n'
	tagTrue   = 't'
	tagFalse  = 'f'
	tagString = 's'
)

// MarshalBinary encodes the payload. A value that is not a finite float64,
// a bool or a string is an error.
func (p CustomersUpsert) MarshalBinary() ([]byte, error) {
	n := 16
	for i := range p.Profiles {
		n += profileBinarySize(&p.Profiles[i])
	}
	b := make([]byte, 0, n)
	b = append(b, customersVersion)
	b = binary.AppendUvarint(b, uint64(len(p.Profiles)))
	var err error
	for i := range p.Profiles {
		if b, err = appendProfileBinary(b, &p.Profiles[i]); err != nil {
			return nil, fmt.Errorf("profile %d: %w", i, err)
		}
	}
	return b, nil
}

func profileBinarySize(p *protocol.Profile) int {
	n := 24 + len(p.ID) + len(p.Region)
	for k := range p.Consents {
		n += len(k) + 4
	}
	for _, m := range []map[string]any{p.Attributes, p.Derived} {
		for k, v := range m {
			n += len(k) + 12
			if s, ok := v.(string); ok {
				n += len(s)
			}
		}
	}
	return n
}

func appendBytes(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendProfileBinary(b []byte, p *protocol.Profile) ([]byte, error) {
	b = appendBytes(b, p.ID)
	b = appendBytes(b, p.Region)
	var flags byte
	if p.DoNotDisturb {
		flags |= 1
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(p.Consents)))
	for _, k := range sortedKeys(p.Consents) {
		b = appendBytes(b, k)
		if p.Consents[k] {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	for _, m := range []map[string]any{p.Attributes, p.Derived} {
		b = binary.AppendUvarint(b, uint64(len(m)))
		for _, k := range sortedKeys(m) {
			b = appendBytes(b, k)
			var err error
			if b, err = appendValue(b, k, m[k]); err != nil {
				return nil, err
			}
		}
	}
	return b, nil
}

// appendValue appends one attribute value: tag, then the value.
func appendValue(b []byte, k string, v any) ([]byte, error) {
	switch v := v.(type) {
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("attribute %s is not a finite number", k)
		}
		b = append(b, tagNumber)
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(v))
	case bool:
		if v {
			b = append(b, tagTrue)
		} else {
			b = append(b, tagFalse)
		}
	case string:
		b = append(b, tagString)
		b = appendBytes(b, v)
	default:
		return nil, fmt.Errorf("attribute %s: %T is not a number, boolean or string", k, v)
	}
	return b, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// UnmarshalBinary decodes the payload; any malformed input is an error,
// never a panic.
func (p *CustomersUpsert) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != customersVersion {
		return errors.New("customers payload version")
	}
	r := payloadReader{b: b[1:]}
	n := r.uvarint()
	// Every profile takes at least five bytes.
	if r.err == nil && n > uint64(len(r.b))/5 {
		return fmt.Errorf("customers payload: %d profiles in %d bytes", n, len(r.b))
	}
	p.Profiles = make([]protocol.Profile, n)
	for i := range p.Profiles {
		if r.err != nil {
			break
		}
		r.profile(&p.Profiles[i])
	}
	if r.err != nil {
		return fmt.Errorf("customers payload: %w", r.err)
	}
	if len(r.b) != 0 {
		return fmt.Errorf("customers payload: %d trailing bytes", len(r.b))
	}
	return nil
}

func (r *payloadReader) byte1() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.err = errors.New("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// count reads a number of items that each take at least min bytes.
func (r *payloadReader) count(min uint64) int {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b))/min {
		r.err = fmt.Errorf("%d items in %d bytes", n, len(r.b))
	}
	if r.err != nil {
		return 0
	}
	return int(n)
}

func (r *payloadReader) profile(p *protocol.Profile) {
	p.ID = string(r.bytes())
	p.Region = string(r.bytes())
	switch f := r.byte1(); {
	case r.err != nil:
		return
	case f&^1 != 0:
		r.err = fmt.Errorf("profile flags %#x", f)
		return
	default:
		p.DoNotDisturb = f&1 != 0
	}
	if n := r.count(2); n > 0 {
		p.Consents = make(map[string]bool, n)
		for range n {
			k := string(r.bytes())
			switch v := r.byte1(); {
			case r.err != nil:
				return
			case v > 1:
				r.err = fmt.Errorf("consent %q: %d is not 0 or 1", k, v)
				return
			default:
				p.Consents[k] = v == 1
			}
		}
	}
	p.Attributes = r.attributes()
	p.Derived = r.attributes()
}

func (r *payloadReader) attributes() map[string]any {
	n := r.count(2)
	if n == 0 {
		return nil
	}
	m := make(map[string]any, n)
	for range n {
		k := string(r.bytes())
		v := r.value(k)
		if r.err != nil {
			return nil
		}
		m[k] = v
	}
	return m
}

// value reads one attribute value (of attribute k, for errors).
func (r *payloadReader) value(k string) any {
	switch tag := r.byte1(); {
	case r.err != nil:
		return nil
	case tag == tagNumber:
		if len(r.b) < 8 {
			r.err = errors.New("truncated number")
			return nil
		}
		v := math.Float64frombits(binary.BigEndian.Uint64(r.b[:8]))
		r.b = r.b[8:]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			r.err = fmt.Errorf("attribute %q is not a finite number", k)
			return nil
		}
		return v
	case tag == tagTrue:
		return true
	case tag == tagFalse:
		return false
	case tag == tagString:
		s := r.bytes()
		if r.err != nil {
			return nil
		}
		return string(s)
	default:
		r.err = fmt.Errorf("attribute %q: value tag %#x", k, tag)
		return nil
	}
}
