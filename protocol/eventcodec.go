package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// The binary form of a contact event, shared by the agent's outbox, the
// wire's EventsBinary frame and the control plane's ledger (JSON costs more
// than anything else on the ingest path). Layout, version 1:
//
//	byte      1 (event version)
//	uvarint   seq
//	varint    time, Unix nanoseconds (UTC)
//	bytes     customer id, channel, site, type, outcome, decision id,
//	          campaign id, offer id
//	8 bytes   value, IEEE 754 big endian (finite)
//
// where "bytes" is a uvarint length followed by that many bytes (at most
// MaxEventField). The agent id is not part of it: the container names it.
const eventVersion = 1

// MaxEventField bounds one string field of a binary event.
const MaxEventField = 1 << 16

// EventBinarySize is an upper bound of e's binary size.
func EventBinarySize(e *ContactEvent) int {
	return 40 + len(e.CustomerID) + len(e.Channel) + len(e.Site) + len(e.Type) + len(e.Outcome) +
		len(e.DecisionID) + len(e.CampaignID) + len(e.OfferID)
}

// AppendEventBinary appends e's binary form to b.
func AppendEventBinary(b []byte, e *ContactEvent) []byte {
	b = append(b, eventVersion)
	b = binary.AppendUvarint(b, e.Seq)
	b = binary.AppendVarint(b, e.Time.UnixNano())
	for _, s := range [...]string{e.CustomerID, e.Channel, e.Site, e.Type, e.Outcome, e.DecisionID, e.CampaignID, e.OfferID} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return binary.BigEndian.AppendUint64(b, math.Float64bits(e.Value))
}

// BinaryReader decodes binary events and the containers around them; the
// first error sticks and every later read returns zero values.
type BinaryReader struct {
	b    []byte
	err  error
	strs *Strings
}

// NewBinaryReader reads b.
func NewBinaryReader(b []byte) *BinaryReader { return &BinaryReader{b: b} }

// NewBinaryReaderStrings reads b, taking the strings events repeat (agent
// id, channel, site, type, outcome, campaign and offer ids) from strs.
func NewBinaryReaderStrings(b []byte, strs *Strings) *BinaryReader {
	return &BinaryReader{b: b, strs: strs}
}

// Err is the first error met.
func (r *BinaryReader) Err() error { return r.err }

// Len is how many bytes are left.
func (r *BinaryReader) Len() int { return len(r.b) }

func (r *BinaryReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("binary events: truncated or malformed %s", what)
	}
	r.b = nil
}

// Byte reads one byte.
func (r *BinaryReader) Byte() byte {
	if r.err != nil || len(r.b) < 1 {
		r.fail("byte")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// Uvarint reads an unsigned varint.
func (r *BinaryReader) Uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if r.err != nil || n <= 0 {
		r.fail("number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *BinaryReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if r.err != nil || n <= 0 {
		r.fail("number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// String reads a length-prefixed string of at most MaxEventField bytes.
func (r *BinaryReader) String() string {
	n := r.Uvarint()
	if r.err != nil || n > MaxEventField || n > uint64(len(r.b)) {
		r.fail("string")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// interned is String through the reader's Strings table.
func (r *BinaryReader) interned() string {
	if r.strs == nil {
		return r.String()
	}
	n := r.Uvarint()
	if r.err != nil || n > MaxEventField || n > uint64(len(r.b)) {
		r.fail("string")
		return ""
	}
	s := r.strs.Of(r.b[:n])
	r.b = r.b[n:]
	return s
}

// Event reads one binary event into e (AgentID untouched).
func (r *BinaryReader) Event(e *ContactEvent) {
	if v := r.Byte(); r.err == nil && v != eventVersion {
		r.err = fmt.Errorf("binary event version %d, want %d", v, eventVersion)
		r.b = nil
		return
	}
	e.Seq = r.Uvarint()
	e.Time = time.Unix(0, r.varint()).UTC()
	e.CustomerID, e.Channel, e.Site, e.Type = r.String(), r.interned(), r.interned(), r.interned()
	e.Outcome, e.DecisionID, e.CampaignID, e.OfferID = r.interned(), r.String(), r.interned(), r.interned()
	if r.err != nil || len(r.b) < 8 {
		r.fail("value")
		return
	}
	e.Value = math.Float64frombits(binary.BigEndian.Uint64(r.b[:8]))
	r.b = r.b[8:]
	if math.IsNaN(e.Value) || math.IsInf(e.Value, 0) {
		r.err = errors.New("binary event: the value is not a finite number")
		r.b = nil
	}
}

// Skip advances past one binary event and returns its bytes.
func (r *BinaryReader) Skip() []byte {
	start := r.b
	var e ContactEvent
	r.Event(&e)
	if r.err != nil {
		return nil
	}
	return start[:len(start)-len(r.b)]
}

// AppendEventList appends evs — events of any agents — as a list: uvarint
// count, then per event its agent id (uvarint length + bytes) and its
// binary form. The wire's Contacts frame and the agent's contact history
// both carry this.
func AppendEventList(b []byte, evs []ContactEvent) []byte {
	b = binary.AppendUvarint(b, uint64(len(evs)))
	for i := range evs {
		b = binary.AppendUvarint(b, uint64(len(evs[i].AgentID)))
		b = append(b, evs[i].AgentID...)
		b = AppendEventBinary(b, &evs[i])
	}
	return b
}

// EventListSize is an upper bound of AppendEventList's output for evs.
func EventListSize(evs []ContactEvent) int {
	n := binary.MaxVarintLen64
	for i := range evs {
		n += binary.MaxVarintLen64 + len(evs[i].AgentID) + EventBinarySize(&evs[i])
	}
	return n
}

// DecodeEventList decodes what AppendEventList wrote, refusing trailing
// bytes.
func DecodeEventList(b []byte) ([]ContactEvent, error) {
	return DecodeEventListInto(nil, b, nil)
}

// DecodeEventListInto appends what AppendEventList wrote to dst, taking
// the strings events repeat from strs (nil: none). On an error dst is
// returned as it came.
func DecodeEventListInto(dst []ContactEvent, b []byte, strs *Strings) ([]ContactEvent, error) {
	r := NewBinaryReaderStrings(b, strs)
	n := r.Uvarint()
	if r.Err() == nil && n > uint64(r.Len()) {
		return dst, errors.New("event list: count exceeds the data")
	}
	out := slices.Grow(dst, int(n))
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		var e ContactEvent
		e.AgentID = r.interned()
		r.Event(&e)
		out = append(out, e)
	}
	if r.Err() != nil {
		return dst, r.Err()
	}
	if r.Len() != 0 {
		return dst, errors.New("event list: trailing bytes")
	}
	return out, nil
}
