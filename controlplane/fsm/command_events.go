package fsm

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"touchpoint.dev/touchpoint/protocol"
)

// EventsIngest's payload is binary, not JSON: contact events are the
// cluster's highest-volume entries, and decoding JSON on every node (then
// encoding each event again to store it) was the largest cost of ingest.
// Layout, version 1:
//
//	byte      1 (payload version)
//	bytes     agent id
//	uvarint   number of events
//	per event: one stored event (below), without the agent id
//
// A stored event (the value of v/<agent>/<seq>) is:
//
//	byte      1 (event version)
//	uvarint   seq
//	varint    time, Unix nanoseconds (UTC)
//	bytes     customer id, channel, site, type, outcome, decision id,
//	          campaign id, offer id
//	8 bytes   value, IEEE 754 big endian
//
// where "bytes" is a uvarint length followed by that many bytes. A payload
// or stored event starting with '{' is the JSON of earlier versions and is
// still read.
const eventsVersion = 1

// maxEventField bounds one string field of an event.
const maxEventField = 1 << 16

// MarshalBinary encodes the payload. Every event must belong to the
// batch's agent (the binary form does not repeat the agent id).
func (p EventsIngest) MarshalBinary() ([]byte, error) {
	n := 16 + len(p.AgentID)
	for i := range p.Events {
		if a := p.Events[i].AgentID; a != p.AgentID {
			return nil, fmt.Errorf("event %d belongs to agent %q, not %q", i, a, p.AgentID)
		}
		n += eventSize(&p.Events[i])
	}
	b := make([]byte, 0, n)
	b = append(b, eventsVersion)
	b = appendBytes(b, p.AgentID)
	b = binary.AppendUvarint(b, uint64(len(p.Events)))
	for i := range p.Events {
		b = appendEvent(b, &p.Events[i])
	}
	return b, nil
}

// UnmarshalBinary decodes the payload (or the JSON of earlier versions);
// any malformed input is an error, never a panic.
func (p *EventsIngest) UnmarshalBinary(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		return json.Unmarshal(b, p)
	}
	r := reader{b: b}
	if v := r.byte(); v != eventsVersion {
		return fmt.Errorf("events payload version %d, want %d", v, eventsVersion)
	}
	p.AgentID = r.str()
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) { // every event takes bytes
		return errors.New("events payload: count exceeds the payload")
	}
	p.Events = make([]protocol.ContactEvent, 0, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		var ev protocol.ContactEvent
		r.event(&ev)
		ev.AgentID = p.AgentID
		p.Events = append(p.Events, ev)
	}
	if r.err == nil && len(r.b) != 0 {
		return errors.New("events payload: trailing bytes")
	}
	return r.err
}

func eventSize(e *protocol.ContactEvent) int {
	return 40 + len(e.CustomerID) + len(e.Channel) + len(e.Site) + len(e.Type) + len(e.Outcome) +
		len(e.DecisionID) + len(e.CampaignID) + len(e.OfferID)
}

func appendBytes(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendEvent(b []byte, e *protocol.ContactEvent) []byte {
	b = append(b, eventsVersion)
	b = binary.AppendUvarint(b, e.Seq)
	b = binary.AppendVarint(b, e.Time.UnixNano())
	for _, s := range [...]string{e.CustomerID, e.Channel, e.Site, e.Type, e.Outcome, e.DecisionID, e.CampaignID, e.OfferID} {
		b = appendBytes(b, s)
	}
	return binary.BigEndian.AppendUint64(b, math.Float64bits(e.Value))
}

// encodeStoredEvent is the value of v/<agent>/<seq>.
func encodeStoredEvent(e *protocol.ContactEvent) []byte {
	return appendEvent(make([]byte, 0, eventSize(e)), e)
}

// decodeStoredEvent reads a stored event of agent (binary, or the JSON of
// earlier versions).
func decodeStoredEvent(agent string, v []byte) (protocol.ContactEvent, error) {
	var ev protocol.ContactEvent
	if len(v) > 0 && v[0] == '{' {
		err := json.Unmarshal(v, &ev)
		return ev, err
	}
	r := reader{b: v}
	r.event(&ev)
	if r.err == nil && len(r.b) != 0 {
		r.err = errors.New("stored event: trailing bytes")
	}
	ev.AgentID = agent
	return ev, r.err
}

// reader decodes the binary forms; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("events payload: truncated or malformed %s", what)
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) < 1 {
		r.fail("version")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if r.err != nil || n <= 0 {
		r.fail("number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if r.err != nil || n <= 0 {
		r.fail("number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err != nil || n > maxEventField || n > uint64(len(r.b)) {
		r.fail("string")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) event(e *protocol.ContactEvent) {
	if v := r.byte(); r.err == nil && v != eventsVersion {
		r.err = fmt.Errorf("event version %d, want %d", v, eventsVersion)
		return
	}
	e.Seq = r.uvarint()
	e.Time = time.Unix(0, r.varint()).UTC()
	e.CustomerID, e.Channel, e.Site, e.Type = r.str(), r.str(), r.str(), r.str()
	e.Outcome, e.DecisionID, e.CampaignID, e.OfferID = r.str(), r.str(), r.str(), r.str()
	if r.err != nil || len(r.b) < 8 {
		r.fail("value")
		return
	}
	e.Value = math.Float64frombits(binary.BigEndian.Uint64(r.b[:8]))
	r.b = r.b[8:]
	if math.IsNaN(e.Value) || math.IsInf(e.Value, 0) {
		r.err = errors.New("events payload: the value is not a finite number")
	}
}

// RawPayload is a payload already encoded (an EventsIngest from
// MarshalBinary, forwarded by another node): Encode copies it as it is.
type RawPayload []byte

// MarshalBinary returns the payload itself.
func (p RawPayload) MarshalBinary() ([]byte, error) { return p, nil }

// EventsPayloadAgent reads the agent id of a binary EventsIngest payload
// without decoding its events.
func EventsPayloadAgent(b []byte) (string, error) {
	r := reader{b: b}
	if v := r.byte(); r.err == nil && v != eventsVersion {
		return "", fmt.Errorf("events payload version %d, want %d", v, eventsVersion)
	}
	id := r.str()
	return id, r.err
}
