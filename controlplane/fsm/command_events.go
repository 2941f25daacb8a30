package fsm

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"touchpoint.dev/touchpoint/protocol"
)

// EventsIngest's payload is binary, not JSON: contact events are the
// cluster's highest-volume entries, and decoding JSON on every node (then
// encoding each event again to store it) was the largest cost of ingest.
// Layout, version 1:
//
//	byte      1 (payload version)
//	bytes     agent id (uvarint length, then the bytes)
//	uvarint   number of events
//	per event: protocol's binary event (AppendEventBinary)
//
// A stored event (the value of k/…) is protocol's binary event. A payload or
// stored event starting with '{' is the JSON of earlier versions and is
// still read.
const eventsVersion = 1

// MarshalBinary encodes the payload. Every event must belong to the
// batch's agent (the binary form does not repeat the agent id).
func (p EventsIngest) MarshalBinary() ([]byte, error) {
	n := 16 + len(p.AgentID)
	for i := range p.Events {
		if a := p.Events[i].AgentID; a != p.AgentID {
			return nil, fmt.Errorf("event %d belongs to agent %q, not %q", i, a, p.AgentID)
		}
		n += protocol.EventBinarySize(&p.Events[i])
	}
	b := make([]byte, 0, n)
	b = append(b, eventsVersion)
	b = binary.AppendUvarint(b, uint64(len(p.AgentID)))
	b = append(b, p.AgentID...)
	b = binary.AppendUvarint(b, uint64(len(p.Events)))
	for i := range p.Events {
		b = protocol.AppendEventBinary(b, &p.Events[i])
	}
	return b, nil
}

// UnmarshalBinary decodes the payload (or the JSON of earlier versions);
// any malformed input is an error, never a panic.
func (p *EventsIngest) UnmarshalBinary(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		return json.Unmarshal(b, p)
	}
	r := protocol.NewBinaryReader(b)
	if v := r.Byte(); r.Err() == nil && v != eventsVersion {
		return fmt.Errorf("events payload version %d, want %d", v, eventsVersion)
	}
	p.AgentID = r.String()
	n := r.Uvarint()
	if r.Err() == nil && n > uint64(r.Len()) { // every event takes bytes
		return errors.New("events payload: count exceeds the payload")
	}
	p.Events = make([]protocol.ContactEvent, 0, n)
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		var ev protocol.ContactEvent
		r.Event(&ev)
		ev.AgentID = p.AgentID
		p.Events = append(p.Events, ev)
	}
	if r.Err() == nil && r.Len() != 0 {
		return errors.New("events payload: trailing bytes")
	}
	return r.Err()
}

// encodeStoredEvent is the value of a ledger key.
func encodeStoredEvent(e *protocol.ContactEvent) []byte {
	return protocol.AppendEventBinary(make([]byte, 0, protocol.EventBinarySize(e)), e)
}

// decodeStoredEvent reads a stored event of agent (binary, or the JSON of
// earlier versions).
func decodeStoredEvent(agent string, v []byte) (protocol.ContactEvent, error) {
	var ev protocol.ContactEvent
	if len(v) > 0 && v[0] == '{' {
		err := json.Unmarshal(v, &ev)
		return ev, err
	}
	r := protocol.NewBinaryReader(v)
	r.Event(&ev)
	if r.Err() == nil && r.Len() != 0 {
		return ev, errors.New("stored event: trailing bytes")
	}
	ev.AgentID = agent
	return ev, r.Err()
}

// RawPayload is a payload already encoded (an EventsIngest from
// MarshalBinary, forwarded by another node): Encode copies it as it is.
type RawPayload []byte

// MarshalBinary returns the payload itself.
func (p RawPayload) MarshalBinary() ([]byte, error) { return p, nil }

// EventsPayloadAgent reads the agent id of a binary EventsIngest payload
// without decoding its events.
func EventsPayloadAgent(b []byte) (string, error) {
	r := protocol.NewBinaryReader(b)
	if v := r.Byte(); r.Err() == nil && v != eventsVersion {
		return "", fmt.Errorf("events payload version %d, want %d", v, eventsVersion)
	}
	id := r.String()
	return id, r.Err()
}

// EventsPayload builds the binary EventsIngest payload of agentID from n
// events already in protocol's binary form, concatenated (the form agents
// send): the gateway proposes it without decoding the events.
func EventsPayload(agentID string, n int, events []byte) []byte {
	b := make([]byte, 0, 16+len(agentID)+len(events))
	b = append(b, eventsVersion)
	b = binary.AppendUvarint(b, uint64(len(agentID)))
	b = append(b, agentID...)
	b = binary.AppendUvarint(b, uint64(n))
	return append(b, events...)
}
