package fsm

import (
	"encoding/binary"
	"fmt"
)

// CatalogApply's payload is binary, not JSON: an apply carries up to
// thousands of documents that are already canonical JSON, and scanning them
// again on every node made JSON decoding the largest cost of a batched
// apply. Layout, version 1:
//
//	byte       1 (payload version)
//	uvarint    number of documents
//	per document:
//	  bytes kind, bytes id, bytes doc JSON, uvarint number of refs,
//	  per ref: bytes kind, bytes id
//
// where "bytes" is a uvarint length followed by that many bytes.
const catalogApplyVersion = 1

// MarshalBinary encodes the payload.
func (p CatalogApply) MarshalBinary() ([]byte, error) {
	n := 16
	for _, d := range p.Docs {
		n += len(d.Kind) + len(d.ID) + len(d.Doc) + 16
	}
	b := make([]byte, 0, n)
	b = append(b, catalogApplyVersion)
	b = binary.AppendUvarint(b, uint64(len(p.Docs)))
	put := func(s []byte) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	for _, d := range p.Docs {
		put([]byte(d.Kind))
		put([]byte(d.ID))
		put(d.Doc)
		b = binary.AppendUvarint(b, uint64(len(d.Refs)))
		for _, r := range d.Refs {
			put([]byte(r.Kind))
			put([]byte(r.ID))
		}
	}
	return b, nil
}

// UnmarshalBinary decodes the payload; any malformed input is an error,
// never a panic.
func (p *CatalogApply) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != catalogApplyVersion {
		return fmt.Errorf("catalog apply payload version")
	}
	r := payloadReader{b: b[1:]}
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) {
		return fmt.Errorf("catalog apply: %d documents in %d bytes", n, len(r.b))
	}
	p.Docs = make([]CatalogDoc, 0, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		d := CatalogDoc{Kind: string(r.bytes()), ID: string(r.bytes()), Doc: r.bytes()}
		nr := r.uvarint()
		if r.err == nil && nr > uint64(len(r.b)) {
			return fmt.Errorf("catalog apply: %d refs in %d bytes", nr, len(r.b))
		}
		for j := uint64(0); j < nr && r.err == nil; j++ {
			d.Refs = append(d.Refs, ObjectRef{Kind: string(r.bytes()), ID: string(r.bytes())})
		}
		p.Docs = append(p.Docs, d)
	}
	if r.err != nil {
		return fmt.Errorf("catalog apply: %w", r.err)
	}
	if len(r.b) != 0 {
		return fmt.Errorf("catalog apply: %d trailing bytes", len(r.b))
	}
	return nil
}

type payloadReader struct {
	b   []byte
	err error
}

func (r *payloadReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.err = fmt.Errorf("bad length")
		return 0
	}
	r.b = r.b[k:]
	return v
}

func (r *payloadReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = fmt.Errorf("field of %d bytes past the end", n)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}
