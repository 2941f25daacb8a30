package fsm

import (
	"encoding"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// CommandType numbers an FSM command. Types are only ever appended: a number,
// once committed to a Raft log somewhere, means the same thing forever.
type CommandType uint16

// Command types. Append only; never renumber or reuse.
const (
	CmdInitCluster     CommandType = 1
	CmdCatalogApply    CommandType = 2
	CmdCatalogDelete   CommandType = 3
	CmdTokenCreate     CommandType = 4
	CmdNodeRegister    CommandType = 5
	CmdNodeRemove      CommandType = 6
	CmdRestored        CommandType = 7
	CmdEventsIngest    CommandType = 8
	CmdJoinToken       CommandType = 9
	CmdAgentEnroll     CommandType = 10
	CmdAgentRevoke     CommandType = 11
	CmdGossipKeys      CommandType = 12
	CmdAgentGossip     CommandType = 13
	CmdCustomersUpsert CommandType = 14
	CmdCustomerErase   CommandType = 15
	CmdCustomersDerive CommandType = 16
	CmdTokenRevoke     CommandType = 17
)

func (t CommandType) String() string {
	switch t {
	case CmdInitCluster:
		return "cluster.init"
	case CmdCatalogApply:
		return "catalog.apply"
	case CmdCatalogDelete:
		return "catalog.delete"
	case CmdTokenCreate:
		return "token.create"
	case CmdNodeRegister:
		return "node.register"
	case CmdNodeRemove:
		return "node.remove"
	case CmdRestored:
		return "cluster.restored"
	case CmdEventsIngest:
		return "events.ingest"
	case CmdJoinToken:
		return "fleet.token"
	case CmdAgentEnroll:
		return "fleet.enroll"
	case CmdAgentRevoke:
		return "fleet.revoke"
	case CmdGossipKeys:
		return "fleet.gossip-keys"
	case CmdAgentGossip:
		return "fleet.agent-gossip"
	case CmdCustomersUpsert:
		return "customers.upsert"
	case CmdCustomerErase:
		return "customers.erase"
	case CmdCustomersDerive:
		return "customers.derive"
	case CmdTokenRevoke:
		return "token.revoke"
	}
	return fmt.Sprintf("command(%d)", uint16(t))
}

// FlagIgnorable marks a command that a node which does not know its type may
// skip: it only adds optional state. Commands without it stop an old node
// (by design: it must be upgraded before it can apply the log correctly).
const FlagIgnorable uint8 = 1 << 0

// Encoding, version 1:
//
//	byte 0     magic 'T'
//	byte 1     envelope version (1)
//	bytes 2-3  command type, big endian
//	byte 4     flags
//	uvarint n  length of the envelope JSON
//	n bytes    JSON of Envelope (without the payload)
//	rest       payload (JSON, decoded by the handler for the type)
//
// The payload sits outside the envelope so that reading the envelope does
// not scan a payload of a thousand documents.
const (
	commandMagic    = 'T'
	envelopeVersion = 1
	headerLen       = 5
	// MaxCommandSize bounds one encoded command (a 1,000-document apply is
	// well under 1 MiB).
	MaxCommandSize = 64 << 20
)

// Envelope is what every command carries besides its type. The proposing
// leader stamps Time and the actor before the command reaches Raft, so
// every node applies exactly the same thing.
type Envelope struct {
	// RequestID makes the command idempotent: the FSM applies a request id
	// once and answers repeats with the first result.
	RequestID string `json:"rid,omitempty"`
	// Time is the leader's clock when it proposed the command, Unix
	// nanoseconds. The FSM never reads a clock.
	Time int64 `json:"t"`
	// Actor is the id of the token that asked; Role is its role.
	Actor   string          `json:"actor,omitempty"`
	Role    string          `json:"role,omitempty"`
	Payload json.RawMessage `json:"-"`
}

// Command is a decoded command.
type Command struct {
	Type  CommandType
	Flags uint8
	Envelope
}

// Encode builds a command from a payload value.
func Encode(t CommandType, flags uint8, env Envelope, payload any) ([]byte, error) {
	if bm, ok := payload.(encoding.BinaryMarshaler); ok {
		p, err := bm.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("encode %s payload: %w", t, err)
		}
		env.Payload = p
	} else if payload != nil {
		p, err := json.Marshal(payload)
		if err != nil {
			return nil, fmt.Errorf("encode %s payload: %w", t, err)
		}
		env.Payload = p
	}
	body, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", t, err)
	}
	out := make([]byte, headerLen, headerLen+binary.MaxVarintLen64+len(body)+len(env.Payload))
	out[0] = commandMagic
	out[1] = envelopeVersion
	binary.BigEndian.PutUint16(out[2:4], uint16(t))
	out[4] = flags
	out = binary.AppendUvarint(out, uint64(len(body)))
	out = append(out, body...)
	out = append(out, env.Payload...)
	if len(out) > MaxCommandSize {
		return nil, fmt.Errorf("encode %s: command is %d bytes, limit %d", t, len(out), MaxCommandSize)
	}
	return out, nil
}

// TypeOf reads an encoded command's type without decoding the rest; ok is
// false for bytes that are not a command.
func TypeOf(b []byte) (t CommandType, ok bool) {
	if len(b) < headerLen || b[0] != commandMagic {
		return 0, false
	}
	return CommandType(binary.BigEndian.Uint16(b[2:4])), true
}

// ErrBadCommand reports bytes that are not a command this node can read.
var ErrBadCommand = errors.New("bad command")

// Decode parses an encoded command. The payload stays raw: it is decoded by
// the handler for its type.
func Decode(b []byte) (Command, error) {
	if len(b) < headerLen {
		return Command{}, fmt.Errorf("%w: %d bytes is shorter than the header", ErrBadCommand, len(b))
	}
	if b[0] != commandMagic {
		return Command{}, fmt.Errorf("%w: magic %#x", ErrBadCommand, b[0])
	}
	if b[1] != envelopeVersion {
		return Command{}, fmt.Errorf("%w: envelope version %d (this node reads %d)", ErrBadCommand, b[1], envelopeVersion)
	}
	c := Command{Type: CommandType(binary.BigEndian.Uint16(b[2:4])), Flags: b[4]}
	n, k := binary.Uvarint(b[headerLen:])
	if k <= 0 || n > uint64(len(b)-headerLen-k) {
		return Command{}, fmt.Errorf("%w: %s envelope length", ErrBadCommand, c.Type)
	}
	start := headerLen + k
	end := start + int(n)
	if err := json.Unmarshal(b[start:end], &c.Envelope); err != nil {
		return Command{}, fmt.Errorf("%w: %s envelope: %v", ErrBadCommand, c.Type, err)
	}
	if end < len(b) {
		c.Payload = b[end:]
	}
	return c, nil
}

// Payloads.

// InitCluster is the first command of a new cluster: its identity and the
// bootstrap admin token.
type InitCluster struct {
	ClusterID string `json:"clusterId"`
	TokenID   string `json:"tokenId"`
	TokenHash string `json:"tokenHash"`
	// CA is the cluster certificate authority the leader created.
	CA *ClusterCA `json:"ca,omitempty"`
}

// CatalogApply commits validated documents as one unit.
type CatalogApply struct {
	Docs []CatalogDoc `json:"docs"`
}

// CatalogDoc is one validated document in canonical JSON, with the objects
// it refers to.
type CatalogDoc struct {
	Kind string          `json:"kind"`
	ID   string          `json:"id"`
	Doc  json.RawMessage `json:"doc"`
	Refs []ObjectRef     `json:"refs,omitempty"`
}

// ObjectRef names a catalogue object.
type ObjectRef struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// CatalogDelete removes one object.
type CatalogDelete struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// TokenCreate stores a new bearer token's hash.
type TokenCreate struct {
	TokenID   string `json:"tokenId"`
	TokenHash string `json:"tokenHash"`
	Role      string `json:"role"`
	Name      string `json:"name,omitempty"`
}

// TokenRevoke deletes an admin API token: requests with its secret are
// refused from the entry on. TokenHash is the stored key, TokenID what the
// operator named; both must match.
type TokenRevoke struct {
	TokenID   string `json:"tokenId"`
	TokenHash string `json:"tokenHash"`
}

// NodeRegister records a control-plane node's addresses.
type NodeRegister struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raftAddr"`
	HTTPAddr string `json:"httpAddr"`
	// QUICAddr is the node's agent gateway, GossipAddr its memberlist
	// address (both empty on nodes that run neither).
	QUICAddr   string `json:"quicAddr,omitempty"`
	GossipAddr string `json:"gossipAddr,omitempty"`
}

// NodeRemove forgets a control-plane node.
type NodeRemove struct {
	ID string `json:"id"`
}

// Restored marks that an operator replaced the cluster's state from a saved
// snapshot: the epoch changes so followers of the change feed resynchronise.
type Restored struct {
	Epoch uint64 `json:"epoch"`
	// ReopenSequences lets each agent's next events skip the sequences
	// the restored ledger lacks: events the cluster acknowledged after the
	// snapshot was taken, which the agents no longer hold (see
	// applyEventsIngest). Restores written before it existed replay
	// without it.
	ReopenSequences bool `json:"reopenSequences,omitempty"`
}
