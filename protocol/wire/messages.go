package wire

import (
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
