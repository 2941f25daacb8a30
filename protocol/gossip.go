package protocol

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Gossip roles and member names. Agents and control-plane nodes share one
// memberlist pool; a member's name is "<role>/<id>", so an agent and a node
// may carry the same id.
const (
	GossipRoleAgent  = "agent"
	GossipRoleServer = "server"
)

// GossipName is the memberlist name of a member.
func GossipName(role, id string) string { return role + "/" + id }

// ParseGossipName splits a memberlist name into role and id.
func ParseGossipName(name string) (role, id string, ok bool) {
	role, id, ok = strings.Cut(name, "/")
	if !ok || (role != GossipRoleAgent && role != GossipRoleServer) || !ValidAgentID(id) {
		return "", "", false
	}
	return role, id, true
}

// GossipBeatInterval is how often an agent gossips fresh metadata (its Beat
// moves even when nothing else changed): a member unheard for two and a half
// beats is suspect, well before memberlist's own failure detection (which
// keeps its suspicion to itself) declares it dead after at least four probe
// intervals.
const GossipBeatInterval = time.Second

// MaxGossipMeta is memberlist's limit on a member's metadata.
const MaxGossipMeta = 512

// A member about to leave first gossips empty metadata, then leaves: the
// others tell a member that left (empty metadata, then gone) from one that
// died (gone without it). Metadata is never empty otherwise.
//
// GossipMeta is what a member gossips about itself (memberlist node
// metadata, JSON, at most MaxGossipMeta bytes). Agents fill the agent
// fields, servers the server fields.
type GossipMeta struct {
	Role    string `json:"role"`
	ID      string `json:"id"`
	Version string `json:"version,omitempty"`
	// Agents.
	Site          string `json:"site,omitempty"`
	Channel       string `json:"channel,omitempty"`
	ConfigIndex   uint64 `json:"configIndex,omitempty"`
	OutboxBacklog uint64 `json:"outboxBacklog,omitempty"`
	OutboxFull    bool   `json:"outboxFull,omitempty"`
	// DiskLow: the member's data directory has less free space than it
	// keeps (--min-free-disk-mb); it refuses writes. Agents and servers.
	DiskLow bool `json:"diskLow,omitempty"`
	// Session is the id of the control-plane node holding the agent's
	// session ("" while it has none). Agents.
	Session string `json:"session,omitempty"`
	// Beat counts the agent's heartbeats (see GossipBeatInterval).
	Beat uint64 `json:"beat,omitempty"`
	// Servers.
	QUICAddr string `json:"quicAddr,omitempty"`
	HTTPAddr string `json:"httpAddr,omitempty"`
}

// Encode returns the metadata as memberlist carries it.
func (m GossipMeta) Encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxGossipMeta {
		return nil, fmt.Errorf("gossip metadata is %d bytes; memberlist carries at most %d", len(b), MaxGossipMeta)
	}
	return b, nil
}

// DecodeGossipMeta reads a member's metadata.
func DecodeGossipMeta(b []byte) (GossipMeta, error) {
	var m GossipMeta
	if len(b) > MaxGossipMeta {
		return m, fmt.Errorf("gossip metadata is %d bytes; the limit is %d", len(b), MaxGossipMeta)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("decode gossip metadata: %w", err)
	}
	return m, nil
}
