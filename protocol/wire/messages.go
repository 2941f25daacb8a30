package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// Hello opens an agent's control stream.
type Hello struct {
	ProtocolVersion int    `json:"protocolVersion"`
	AgentID         string `json:"agentId"`
	Site            string `json:"site"`
	Channel         string `json:"channel"`
	Version         string `json:"version"`
	// ClusterID, Epoch and Index describe the configuration the agent
	// holds; the control plane sends what follows Index, or a snapshot
	// when the agent is too far behind or holds another cluster's (or
	// epoch's) configuration.
	ClusterID string `json:"clusterId,omitempty"`
	Epoch     uint64 `json:"epoch,omitempty"`
	Index     uint64 `json:"index"`
	// AckedSeq is the highest event sequence the agent saw acknowledged.
	AckedSeq uint64 `json:"ackedSeq"`
	// Region is the region whose profiles the agent prefetches (version 3).
	Region string `json:"region,omitempty"`
}

// Welcome answers Hello.
type Welcome struct {
	ProtocolVersion int    `json:"protocolVersion"`
	NodeID          string `json:"nodeId"`
	ClusterID       string `json:"clusterId"`
	Epoch           uint64 `json:"epoch"`
	// HighestSeq is the highest event sequence of this agent the cluster
	// has committed: the agent may delete its outbox through it.
	HighestSeq uint64 `json:"highestSeq"`
	// Servers lists the cluster's nodes (version 2).
	Servers []ServerInfo `json:"servers,omitempty"`
}

// Changes carries configuration changes after the agent's index, in order,
// ending at Index.
type Changes struct {
	ClusterID string       `json:"clusterId"`
	Epoch     uint64       `json:"epoch"`
	Index     uint64       `json:"index"`
	Changes   []api.Change `json:"changes"`
}

// Snapshot replaces the agent's whole configuration with Objects as of
// Index.
type Snapshot struct {
	ClusterID string       `json:"clusterId"`
	Epoch     uint64       `json:"epoch"`
	Index     uint64       `json:"index"`
	Objects   []api.Object `json:"objects"`
}

// Events is a batch of contact events, in sequence order without gaps.
type Events struct {
	Events []protocol.ContactEvent `json:"events"`
}

// EventsAck acknowledges every event of the agent through HighestSeq: they
// are committed through Raft.
type EventsAck struct {
	HighestSeq uint64 `json:"highestSeq"`
}

// Error reports why the sender closes the stream.
type Error struct {
	Code    api.Code `json:"code"`
	Message string   `json:"message"`
}

// ServerInfo names a control-plane node an agent may connect to.
type ServerInfo struct {
	ID         string `json:"id"`
	QUICAddr   string `json:"quicAddr"`
	GossipAddr string `json:"gossipAddr,omitempty"`
}

// Enroll asks for an agent certificate. Token is the join token's text (it
// carries the secret: never log it).
type Enroll struct {
	ProtocolVersion int    `json:"protocolVersion"`
	Token           string `json:"token"`
	AgentID         string `json:"agentId"`
	Site            string `json:"site"`
	Channel         string `json:"channel"`
	Version         string `json:"version"`
	// PublicKey is the PKIX DER of the key the agent generated; the private
	// key never leaves the agent.
	PublicKey  []byte `json:"publicKey"`
	GossipAddr string `json:"gossipAddr,omitempty"`
}

// Enrolled answers Enroll: the agent's certificate, the cluster CA it
// verifies the control plane against from now on, the gossip keys and the
// servers to connect to.
type Enrolled struct {
	ProtocolVersion int          `json:"protocolVersion"`
	ClusterID       string       `json:"clusterId"`
	Certificate     []byte       `json:"certificate"` // DER
	CA              []byte       `json:"ca"`          // DER
	GossipKeys      [][]byte     `json:"gossipKeys"`  // primary first
	Servers         []ServerInfo `json:"servers"`
}

// Status is what an agent reports about itself on the control stream (every
// few seconds, and when its outbox fills or drains).
type Status struct {
	// Index is the configuration index the agent's cache holds.
	Index         uint64 `json:"index"`
	OutboxBacklog uint64 `json:"outboxBacklog"`
	OutboxFull    bool   `json:"outboxFull,omitempty"`
	// NextSeq is the sequence the agent's next event will get.
	NextSeq uint64 `json:"nextSeq"`
}

// Keyring carries the gossip encryption keys, primary first: the agent
// installs them all, encrypts with the first and drops keys not listed.
type Keyring struct {
	Keys [][]byte `json:"keys"`
}

// ForwardEvents carries one agent's batch from the node that holds the
// agent's session to the leader.
type ForwardEvents struct {
	AgentID string `json:"agentId"`
	// Payload is the batch already encoded the way the cluster's state
	// machine reads it (opaque here): the leader proposes it without
	// decoding the events. Without one, the leader answers the agent's mark
	// (an events stream opening on a follower, whose own state may lag).
	Payload []byte `json:"payload,omitempty"`
}

// NewMessage returns a pointer to a zero message of type t, or nil for a
// type this build does not know.
func NewMessage(t MsgType) any {
	switch t {
	case MsgHello:
		return &Hello{}
	case MsgWelcome:
		return &Welcome{}
	case MsgChanges:
		return &Changes{}
	case MsgSnapshot:
		return &Snapshot{}
	case MsgEvents:
		return &Events{}
	case MsgEventsAck:
		return &EventsAck{}
	case MsgError:
		return &Error{}
	case MsgEnroll:
		return &Enroll{}
	case MsgEnrolled:
		return &Enrolled{}
	case MsgStatus:
		return &Status{}
	case MsgKeyring:
		return &Keyring{}
	case MsgForwardEvents:
		return &ForwardEvents{}
	case MsgProfileGet:
		return &ProfileGet{}
	case MsgProfile:
		return &Profile{}
	case MsgPrefetch:
		return &Prefetch{}
	case MsgProfiles:
		return &Profiles{}
	}
	return nil
}

// EventsBinary is the payload of an MsgEventsBinary frame: an Events batch
// of one agent (the session's) without JSON, which is most of the cost of
// ingest. Layout, version 1:
//
//	byte      1
//	uvarint   number of events
//	per event: protocol's binary event (protocol.AppendEventBinary)
const eventsBinaryVersion = 1

// WriteEventsBinary writes an EventsBinary frame of n events already in
// protocol's binary form, concatenated.
func WriteEventsBinary(w io.Writer, n int, events []byte) error {
	b := make([]byte, 0, 11+len(events))
	b = append(b, eventsBinaryVersion)
	b = binary.AppendUvarint(b, uint64(n))
	b = append(b, events...)
	return WriteRaw(w, MsgEventsBinary, b)
}

// SplitEventsBinary checks an EventsBinary payload event by event and
// returns the number of events and their concatenated binary form.
func SplitEventsBinary(payload []byte) (n int, events []byte, err error) {
	r := protocol.NewBinaryReader(payload)
	if v := r.Byte(); r.Err() == nil && v != eventsBinaryVersion {
		return 0, nil, fmt.Errorf("events-binary version %d, want %d", v, eventsBinaryVersion)
	}
	count := r.Uvarint()
	if r.Err() == nil && count > uint64(r.Len()) {
		return 0, nil, errors.New("events-binary: count exceeds the payload")
	}
	start := len(payload) - r.Len()
	for i := uint64(0); i < count && r.Err() == nil; i++ {
		r.Skip()
	}
	if r.Err() != nil {
		return 0, nil, r.Err()
	}
	if r.Len() != 0 {
		return 0, nil, errors.New("events-binary: trailing bytes")
	}
	return int(count), payload[start:], nil
}

// DecodeEventsBinary decodes an EventsBinary payload of agent's events.
func DecodeEventsBinary(agent string, payload []byte) ([]protocol.ContactEvent, error) {
	n, raw, err := SplitEventsBinary(payload)
	if err != nil {
		return nil, err
	}
	out := make([]protocol.ContactEvent, n)
	r := protocol.NewBinaryReader(raw)
	for i := range out {
		r.Event(&out[i])
		out[i].AgentID = agent
	}
	return out, r.Err()
}

// OfferVolumes carries, for every offer of the catalogue with a volumeCap,
// how many times it was presented across the fleet, as of the ledger the
// sending node has applied. Sent when a session starts and whenever a
// count changes; an agent that does not know the message skips it.
type OfferVolumes struct {
	Volumes map[string]int64 `json:"volumes"`
}
