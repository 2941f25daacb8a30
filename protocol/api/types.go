// Package api holds the admin API's request and response types, its stable
// error codes and a thin HTTP client. The touchpoint CLI speaks to the
// control plane only through this package.
package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"touchpoint.dev/touchpoint/protocol/diskspace"
)

// Roles a bearer token can have, from most to least powerful.
const (
	RoleAdmin    = "admin"
	RoleOperator = "operator"
	RoleAnalyst  = "analyst"
	RoleViewer   = "viewer"
)

// Roles lists every role.
var Roles = []string{RoleAdmin, RoleOperator, RoleAnalyst, RoleViewer}

// ValidRole reports whether r names a role.
func ValidRole(r string) bool {
	for _, x := range Roles {
		if x == r {
			return true
		}
	}
	return false
}

// Headers the API reads.
const (
	// HeaderRequestID carries a client-chosen id that makes a write
	// idempotent: the control plane applies a request id at most once, so a
	// retried or forwarded write is not applied twice.
	HeaderRequestID = "X-Request-Id"
	// HeaderForwarded marks a request one node forwarded to the leader.
	HeaderForwarded = "X-Touchpoint-Forwarded"
	// HeaderIndex reports the Raft index a write committed at or a read
	// reflects.
	HeaderIndex = "X-Touchpoint-Index"
)

// Object is one stored catalogue document: the document as applied, with its
// fields at the top level, plus "index", the Raft index of its last change.
// It marshals as a flat JSON object.
type Object struct {
	Kind  string          `json:"kind"`
	ID    string          `json:"id"`
	Index uint64          `json:"index"`
	Doc   json.RawMessage `json:"-"`
}

// MarshalJSON writes the document's own fields followed by "index".
func (o Object) MarshalJSON() ([]byte, error) {
	doc := o.Doc
	if len(doc) < 2 || doc[0] != '{' {
		return json.Marshal(struct {
			Kind  string `json:"kind"`
			ID    string `json:"id"`
			Index uint64 `json:"index"`
		}{o.Kind, o.ID, o.Index})
	}
	idx, _ := json.Marshal(o.Index)
	out := make([]byte, 0, len(doc)+len(idx)+10)
	out = append(out, doc[:len(doc)-1]...)
	if len(doc) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"index":`...)
	out = append(out, idx...)
	out = append(out, '}')
	return out, nil
}

// UnmarshalJSON reads a flat object back, keeping the document's fields in
// their order and their values byte for byte, without "index".
func (o *Object) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("catalogue object: not a JSON object")
	}
	doc := []byte{'{'}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		switch key {
		case "index":
			if err := json.Unmarshal(v, &o.Index); err != nil {
				return fmt.Errorf("catalogue object index: %w", err)
			}
			continue
		case "kind":
			_ = json.Unmarshal(v, &o.Kind)
		case "id":
			_ = json.Unmarshal(v, &o.ID)
		}
		if len(doc) > 1 {
			doc = append(doc, ',')
		}
		k, _ := json.Marshal(key)
		doc = append(doc, k...)
		doc = append(doc, ':')
		doc = append(doc, v...)
	}
	o.Doc = append(doc, '}')
	return nil
}

// ApplyResult answers POST /v1/catalog.
type ApplyResult struct {
	// Index is the Raft index the whole apply committed at.
	Index     uint64       `json:"index"`
	Documents []AppliedDoc `json:"documents"`
	Duplicate bool         `json:"duplicate,omitempty"`
	// Warnings are what the committed catalogue will do that its author
	// most likely did not mean (a campaign that can present none of its
	// offers); the apply is committed all the same.
	Warnings []ApplyWarning `json:"warnings,omitempty"`
}

// ApplyWarning is one warning of an apply, about one object.
type ApplyWarning struct {
	Kind    string `json:"kind"`
	ID      string `json:"id"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WarnNoChannelInCommon: a campaign on given channels none of whose
// offers can be presented on any of them.
const WarnNoChannelInCommon = "no_channel_in_common"

// AppliedDoc reports what happened to one document of an apply.
type AppliedDoc struct {
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	Action string `json:"action"` // created, updated, unchanged
}

// WriteResult answers a write that changes one thing.
type WriteResult struct {
	Index     uint64 `json:"index"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// Change is one entry of the change feed.
type Change struct {
	Index uint64 `json:"index"`
	Op    string `json:"op"` // put, delete or (Customer) derive
	Kind  string `json:"kind"`
	ID    string `json:"id"`
	// Region is the customer's home region on a Customer change ("" for
	// catalogue changes and customers without one), so the gateway can send
	// each agent only its region's profiles.
	Region string          `json:"region,omitempty"`
	Doc    json.RawMessage `json:"doc,omitempty"`
}

// Change operations.
const (
	OpPut    = "put"
	OpDelete = "delete"
	// OpDerive is a Customer change carrying only what a control-plane
	// job computed for the customer (Doc is a protocol.DerivedUpdate): an
	// agent applies it to the profile it holds and ignores it otherwise.
	OpDerive = "derive"
)

// ChangeFeed answers GET /v1/changes?after=N. Either Changes holds every
// change after N in index order, or, when N is older than the feed retains
// (or belongs to another cluster), Snapshot is true and Objects holds the
// whole catalogue as of Index.
type ChangeFeed struct {
	ClusterID string   `json:"clusterId"`
	Epoch     uint64   `json:"epoch"`
	Index     uint64   `json:"index"`
	Snapshot  bool     `json:"snapshot"`
	Changes   []Change `json:"changes,omitempty"`
	Objects   []Object `json:"objects,omitempty"`
}

// NodeStatus is what one node says of itself (GET /v1/cluster/self).
type NodeStatus struct {
	ID           string `json:"id"`
	RaftAddr     string `json:"raftAddr"`
	HTTPAddr     string `json:"httpAddr"`
	State        string `json:"state"`
	Term         uint64 `json:"term"`
	LastIndex    uint64 `json:"lastIndex"`
	CommitIndex  uint64 `json:"commitIndex"`
	AppliedIndex uint64 `json:"appliedIndex"`
	Leader       string `json:"leader"`
	ClusterID    string `json:"clusterId"`
	Version      string `json:"version"`
	// Disk is the free space under the node's data directory against
	// --min-free-disk-mb (absent when it cannot be read). While Low, the
	// cluster refuses writes with insufficient_storage.
	Disk *diskspace.Status `json:"disk,omitempty"`
}

// Node states in cluster status.
const (
	StateLeader      = "leader"
	StateFollower    = "follower"
	StateCandidate   = "candidate"
	StateUnreachable = "unreachable"
)

// ClusterNode is one member of the Raft configuration as cluster status sees
// it.
type ClusterNode struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	HTTPAddr string `json:"httpAddr,omitempty"`
	Suffrage string `json:"suffrage"`
	State    string `json:"state"`
	// LastIndex is that node's own last log index, asked of it.
	LastIndex uint64 `json:"lastIndex"`
	// Disk is that node's free disk space, asked of it.
	Disk  *diskspace.Status `json:"disk,omitempty"`
	Error string            `json:"error,omitempty"`
}

// ClusterStatus answers GET /v1/cluster/status.
type ClusterStatus struct {
	ClusterID string        `json:"clusterId"`
	Leader    string        `json:"leader"`
	Term      uint64        `json:"term"`
	Nodes     []ClusterNode `json:"nodes"`
}

// JoinRequest asks the cluster to add a voter.
type JoinRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raftAddr"`
	HTTPAddr string `json:"httpAddr"`
	// QUICAddr and GossipAddr are the node's agent gateway and gossip
	// addresses, when it runs them.
	QUICAddr   string `json:"quicAddr,omitempty"`
	GossipAddr string `json:"gossipAddr,omitempty"`
}

// Membership is a node's answer to "is ID a member?" from its own Raft
// configuration (GET /v1/cluster/members/{id}, no token needed). A node
// the cluster removed while it was down asks its old peers at start: it
// cannot learn from its own log that it is out.
type Membership struct {
	ID     string `json:"id"`
	Member bool   `json:"member"`
	// ClusterID and Leader say whose answer it is: one from another
	// cluster, or from a node that knows no leader, proves nothing.
	ClusterID string `json:"clusterId"`
	Leader    string `json:"leader,omitempty"`
	// Node is the answering node's id.
	Node string `json:"node"`
}

// RemoveRequest asks the cluster to drop a server from its configuration.
type RemoveRequest struct {
	ID string `json:"id"`
}

// AuditEntry is one change as the audit log recorded it.
type AuditEntry struct {
	Index   uint64    `json:"index"`
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`
	Role    string    `json:"role"`
	Action  string    `json:"action"`
	Target  string    `json:"target,omitempty"`
	Details string    `json:"details,omitempty"`
}

// TokenRequest asks for a new bearer token.
type TokenRequest struct {
	Role string `json:"role"`
	Name string `json:"name,omitempty"`
}

// TokenRevokeRequest names the admin API token to revoke, by its id.
type TokenRevokeRequest struct {
	ID string `json:"id"`
}

// TokenResult carries a new token. The secret is shown once and stored only
// as a hash.
type TokenResult struct {
	Token string `json:"token"`
	ID    string `json:"id"`
	Role  string `json:"role"`
	Name  string `json:"name,omitempty"`
	Index uint64 `json:"index"`
}

// TokenInfo describes a stored token without its secret.
type TokenInfo struct {
	ID      string    `json:"id"`
	Role    string    `json:"role"`
	Name    string    `json:"name,omitempty"`
	Created time.Time `json:"created"`
}

// ContactStats answers GET /v1/contacts/stats.
type ContactStats struct {
	Total  uint64          `json:"total"`
	Agents []AgentContacts `json:"agents"`
}

// AgentContacts is one agent's share of the contact ledger: how many events
// the cluster committed for it and the highest sequence among them.
type AgentContacts struct {
	AgentID         string    `json:"agentId"`
	Received        uint64    `json:"received"`
	HighestSequence uint64    `json:"highestSequence"`
	LastEvent       time.Time `json:"lastEvent"`
}

// JoinTokenRequest asks for an agent join token.
type JoinTokenRequest struct {
	// TTL is a Go duration ("1h"); default 1h, at most 720h.
	TTL string `json:"ttl,omitempty"`
	// Uses is how many agents may enroll with it; default 1.
	Uses int `json:"uses,omitempty"`
}

// JoinTokenResult carries a join token, shown once.
type JoinTokenResult struct {
	Token   string    `json:"token"`
	ID      string    `json:"id"`
	Expires time.Time `json:"expires"`
	Uses    int       `json:"uses"`
	Index   uint64    `json:"index"`
}

// Agent states in the fleet view (memberlist's, as seen by the answering
// node).
const (
	AgentAlive   = "alive"
	AgentSuspect = "suspect"
	AgentDead    = "dead"
	AgentLeft    = "left"
)

// FleetAgent is one enrolled agent: its registry entry (kept in Raft) and
// its live state from gossip and agent sessions.
type FleetAgent struct {
	ID      string `json:"id"`
	Site    string `json:"site"`
	Channel string `json:"channel"`
	// Status is alive, suspect, dead or left (memberlist's view); an agent
	// never seen in gossip is dead.
	Status string `json:"status"`
	// ConfigIndex is the configuration index sent to the agent; Lag is
	// how many Raft indexes the newest configuration change is ahead of
	// what it applied (AppliedIndex; 0: up to date). An agent with no
	// live state (LastSeen zero: never seen since the node started) has
	// all of them, and OutboxBacklog, 0: unknown.
	ConfigIndex uint64 `json:"configIndex"`
	// AppliedIndex is the configuration index the agent itself last
	// reported as applied to its cache (on its session, or in its gossip
	// metadata). ConfigIndex can be ahead of it by changes a session has
	// sent that the agent has not yet reported; customers erase counts an
	// agent as confirmed on AppliedIndex.
	AppliedIndex  uint64 `json:"appliedIndex"`
	Lag           uint64 `json:"lag"`
	OutboxBacklog uint64 `json:"outboxBacklog"`
	// DiskLow: the agent gossips that its disk has less free space than
	// it keeps; it refuses contacts until space is freed.
	DiskLow  bool      `json:"diskLow,omitempty"`
	Version  string    `json:"version"`
	LastSeen time.Time `json:"lastSeen,omitzero"`
	// Session names the control-plane node holding the agent's session:
	// the answering node when it holds it, otherwise the node a live
	// agent gossips it is connected to ("" when neither says one).
	Session    string    `json:"session,omitempty"`
	GossipAddr string    `json:"gossipAddr,omitempty"`
	CertSerial string    `json:"certSerial"`
	Enrolled   time.Time `json:"enrolled"`
	Revoked    bool      `json:"revoked"`
	RevokedAt  time.Time `json:"revokedAt,omitzero"`
}

// RevokeRequest names the agent to cut off.
type RevokeRequest struct {
	ID string `json:"id"`
	// Force revokes the agent even though its outbox may still hold
	// contact events the cluster has not received: it last reported a
	// backlog, or it is not connected and its backlog is unknown. Those
	// events are lost (the agent answered 202 for them). Without it such a
	// revocation is refused with CodeConflict.
	Force bool `json:"force,omitempty"`
}

// RevokeResult answers POST /v1/fleet/revoke.
type RevokeResult struct {
	// Index is the Raft entry that revoked the agent; absent when
	// AlreadyRevoked and nothing was written.
	Index     uint64 `json:"index,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
	// AlreadyRevoked: the agent was revoked before, at RevokedAt.
	AlreadyRevoked bool      `json:"alreadyRevoked,omitempty"`
	RevokedAt      time.Time `json:"revokedAt,omitzero"`
	// LostBacklog is, on a forced revocation, the outbox backlog the
	// agent last reported: the contacts that may be lost. BacklogUnknown
	// says the agent was not connected, so that figure may be stale (or
	// the agent never reported one since this leader started).
	LostBacklog    uint64 `json:"lostBacklog,omitempty"`
	BacklogUnknown bool   `json:"backlogUnknown,omitempty"`
}
