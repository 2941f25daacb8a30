package fsm

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// The fleet: the cluster CA, join tokens, enrolled agents and revocations.
//
//	m/gossip          GossipKeys JSON (the memberlist keyring, primary first)
//	m/ca              clusterCA JSON (certificate and key PEM; the key is a
//	                  cluster secret, replicated like everything in Raft)
//	j/<token id>      joinToken JSON (the secret only as its SHA-256)
//	g/<agent id>      Agent JSON (the fleet registry)
var (
	keyCA       = []byte("m/ca")
	keyGossip   = []byte("m/gossip")
	prefixJoin  = []byte("j/")
	prefixAgent = []byte("g/")
)

// Fleet error codes.
const (
	CodeTokenInvalid api.Code = "token_invalid"
	CodeRevoked               = api.CodeRevoked
)

// ClusterCA is the cluster certificate authority as stored.
type ClusterCA struct {
	CertPEM string `json:"certPem"`
	KeyPEM  string `json:"keyPem"`
}

// JoinTokenCreate stores a new join token.
type JoinTokenCreate struct {
	TokenID    string `json:"tokenId"`
	SecretHash string `json:"secretHash"`
	// Expires is Unix nanoseconds, by the leader's clock.
	Expires int64 `json:"expires"`
	Uses    int   `json:"uses"`
}

type joinToken struct {
	SecretHash string    `json:"secretHash"`
	Expires    time.Time `json:"expires"`
	UsesLeft   int       `json:"usesLeft"`
	Created    time.Time `json:"created"`
	CreatedBy  string    `json:"createdBy"`
}

// AgentEnroll spends a join token and registers the agent. The leader has
// already checked the request and issued the certificate; the FSM decides
// whether the token is still good, so two agents racing for a one-use token
// cannot both win.
type AgentEnroll struct {
	TokenID    string `json:"tokenId"`
	SecretHash string `json:"secretHash"`
	AgentID    string `json:"agentId"`
	Site       string `json:"site"`
	Channel    string `json:"channel"`
	CertSerial string `json:"certSerial"`
	GossipAddr string `json:"gossipAddr,omitempty"`
	// KeyFingerprint is the SHA-256 (hex) of the agent's public key (PKIX
	// DER). A command that carries it may not take over an id enrolled
	// with another key (see applyAgentEnroll); commands written before it
	// existed replay as they were applied.
	KeyFingerprint string `json:"keyFingerprint,omitempty"`
}

// AgentRevoke cuts an agent off.
type AgentRevoke struct {
	AgentID string `json:"agentId"`
}

// AgentRevokeResult is what an AgentRevoke entry answers. Revoking a
// revoked agent changes nothing: AlreadyRevoked is then set and RevokedAt
// is the first revocation's time.
type AgentRevokeResult struct {
	Index          uint64    `json:"index"`
	AlreadyRevoked bool      `json:"alreadyRevoked,omitempty"`
	RevokedAt      time.Time `json:"revokedAt"`
}

// Agent is one enrolled agent in the fleet registry.
type Agent struct {
	ID         string    `json:"id"`
	Site       string    `json:"site"`
	Channel    string    `json:"channel"`
	CertSerial string    `json:"certSerial"`
	GossipAddr string    `json:"gossipAddr,omitempty"`
	Enrolled   time.Time `json:"enrolled"`
	TokenID    string    `json:"tokenId"`
	Revoked    bool      `json:"revoked"`
	RevokedAt  time.Time `json:"revokedAt,omitzero"`
	// KeyFingerprint is AgentEnroll's (empty for agents enrolled before
	// it was recorded).
	KeyFingerprint string `json:"keyFingerprint,omitempty"`
}

func applyJoinTokenCreate(e *entry) (any, *api.Error) {
	p, aerr := decodePayload[JoinTokenCreate](e)
	if aerr != nil {
		return nil, aerr
	}
	if p.TokenID == "" || len(p.SecretHash) != 64 {
		return nil, api.Errorf(api.CodeBadRequest, "join token id and secret hash required")
	}
	if p.Uses < 1 || p.Uses > 100000 {
		return nil, api.Errorf(api.CodeInvalidField, "uses must be between 1 and 100000")
	}
	if p.Expires <= e.cmd.Time {
		return nil, api.Errorf(api.CodeInvalidField, "the token would expire before it is created")
	}
	if _, ok := e.w.get(keyCA); !ok {
		return nil, api.Errorf(api.CodeConflict, "the cluster has no CA")
	}
	key := strKey(prefixJoin, p.TokenID)
	if _, ok := e.w.get(key); ok {
		return nil, api.Errorf(api.CodeConflict, "join token %s exists", p.TokenID)
	}
	b, _ := json.Marshal(joinToken{SecretHash: p.SecretHash, Expires: time.Unix(0, p.Expires).UTC(), UsesLeft: p.Uses,
		Created: e.time(), CreatedBy: e.cmd.Actor})
	e.w.set(key, b)
	e.addAudit("fleet.token", p.TokenID, fmt.Sprintf("uses %d, expires %s", p.Uses, time.Unix(0, p.Expires).UTC().Format(time.RFC3339)))
	return api.WriteResult{Index: e.index}, nil
}

func applyAgentEnroll(e *entry) (any, *api.Error) {
	p, aerr := decodePayload[AgentEnroll](e)
	if aerr != nil {
		return nil, aerr
	}
	if !protocol.ValidAgentID(p.AgentID) {
		return nil, api.Errorf(api.CodeInvalidField, "agent id %q: 1 to 128 letters, digits, '-', '_' or '.'", p.AgentID)
	}
	// One message for every token failure: a caller learns nothing about
	// which tokens exist.
	bad := api.Errorf(CodeTokenInvalid, "the join token is unknown, expired or used up")
	tkey := strKey(prefixJoin, p.TokenID)
	b, ok := e.w.get(tkey)
	if !ok {
		return nil, bad
	}
	var tok joinToken
	if err := json.Unmarshal(b, &tok); err != nil {
		panic(fmt.Sprintf("fsm: join token %s: %v", p.TokenID, err))
	}
	if subtle.ConstantTimeCompare([]byte(tok.SecretHash), []byte(p.SecretHash)) != 1 ||
		!e.time().Before(tok.Expires) || tok.UsesLeft < 1 {
		return nil, bad
	}
	akey := strKey(prefixAgent, p.AgentID)
	if prev, ok := e.w.get(akey); ok {
		var a Agent
		_ = json.Unmarshal(prev, &a)
		if a.Revoked {
			return nil, api.Errorf(CodeRevoked, "agent %s was revoked; enroll it under a new id", p.AgentID)
		}
		// Another process under a live agent's id would take over its
		// certificate (the agent is cut off) and restart its event
		// sequence, whose first events the ledger would drop as
		// duplicates of the agent's. The same key again is the same agent
		// retrying (its answer was lost).
		if p.KeyFingerprint != "" && a.KeyFingerprint != p.KeyFingerprint {
			return nil, api.Errorf(api.CodeConflict, "agent %s is already enrolled (since %s, certificate %s); "+
				"an agent that lost its data directory cannot take its id again: revoke %s (touchpoint fleet revoke %s) and enroll it under a new id",
				p.AgentID, a.Enrolled.UTC().Format(time.RFC3339), a.CertSerial, p.AgentID, p.AgentID)
		}
	}
	tok.UsesLeft--
	if tok.UsesLeft == 0 {
		e.w.del(tkey)
	} else {
		tb, _ := json.Marshal(tok)
		e.w.set(tkey, tb)
	}
	ab, _ := json.Marshal(Agent{ID: p.AgentID, Site: p.Site, Channel: p.Channel, CertSerial: p.CertSerial,
		GossipAddr: p.GossipAddr, Enrolled: e.time(), TokenID: p.TokenID, KeyFingerprint: p.KeyFingerprint})
	e.w.set(akey, ab)
	e.w.fleet = true
	e.addAudit("fleet.enroll", p.AgentID, "token "+p.TokenID+", certificate "+p.CertSerial)
	return api.WriteResult{Index: e.index}, nil
}

func applyAgentRevoke(e *entry) (any, *api.Error) {
	p, aerr := decodePayload[AgentRevoke](e)
	if aerr != nil {
		return nil, aerr
	}
	key := strKey(prefixAgent, p.AgentID)
	b, ok := e.w.get(key)
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "agent %q is not enrolled", p.AgentID)
	}
	var a Agent
	if err := json.Unmarshal(b, &a); err != nil {
		panic(fmt.Sprintf("fsm: agent %s: %v", p.AgentID, err))
	}
	if a.Revoked {
		// The admin API answers a revoked agent without writing; this is
		// two revocations racing, or a client that bypassed that check.
		return AgentRevokeResult{Index: e.index, AlreadyRevoked: true, RevokedAt: a.RevokedAt}, nil
	}
	a.Revoked, a.RevokedAt = true, e.time()
	ab, _ := json.Marshal(a)
	e.w.set(key, ab)
	e.w.fleet = true
	e.addAudit("fleet.revoke", p.AgentID, "certificate "+a.CertSerial)
	return AgentRevokeResult{Index: e.index, RevokedAt: a.RevokedAt}, nil
}

// CA returns the cluster CA (ok false before the cluster has one).
func (f *FSM) CA() (ClusterCA, bool, error) {
	var ca ClusterCA
	var found bool
	err := f.view(func(tx *badger.Txn) error {
		var err error
		found, err = getJSON(tx, keyCA, &ca)
		return err
	})
	return ca, found, err
}

// Agent returns one enrolled agent.
func (f *FSM) Agent(id string) (Agent, bool, error) {
	var a Agent
	var found bool
	err := f.view(func(tx *badger.Txn) error {
		var err error
		found, err = getJSON(tx, strKey(prefixAgent, id), &a)
		return err
	})
	return a, found, err
}

// Agents lists the fleet registry, ordered by id.
func (f *FSM) Agents() ([]Agent, error) {
	out := []Agent{}
	err := f.view(func(tx *badger.Txn) error {
		return scan(tx, prefixAgent, func(_, v []byte) (bool, error) {
			var a Agent
			if err := json.Unmarshal(v, &a); err != nil {
				return false, errors.Join(errors.New("decode agent"), err)
			}
			out = append(out, a)
			return true, nil
		})
	})
	return out, err
}

// GossipKeys replaces the gossip keyring, primary first (the leader
// rotates by putting a fresh key first and keeping the previous primary, so
// members that have not switched yet still understand each other).
type GossipKeys struct {
	Keys [][]byte `json:"keys"`
}

// maxGossipKeys bounds the keyring.
const maxGossipKeys = 4

func applyGossipKeys(e *entry) (any, *api.Error) {
	p, aerr := decodePayload[GossipKeys](e)
	if aerr != nil {
		return nil, aerr
	}
	if len(p.Keys) == 0 || len(p.Keys) > maxGossipKeys {
		return nil, api.Errorf(api.CodeInvalidField, "a gossip keyring holds 1 to %d keys", maxGossipKeys)
	}
	for i, k := range p.Keys {
		if len(k) != 16 && len(k) != 24 && len(k) != 32 {
			return nil, api.Errorf(api.CodeInvalidField, "gossip key %d is %d bytes; AES keys are 16, 24 or 32", i, len(k))
		}
	}
	b, _ := json.Marshal(p)
	e.w.set(keyGossip, b)
	e.w.fleet = true
	e.addAudit("fleet.gossip-keys", "", fmt.Sprintf("%d keys", len(p.Keys)))
	return api.WriteResult{Index: e.index}, nil
}

// GossipKeys returns the gossip keyring, primary first (nil before the
// leader has created one).
func (f *FSM) GossipKeys() ([][]byte, error) {
	var g GossipKeys
	err := f.view(func(tx *badger.Txn) error {
		_, err := getJSON(tx, keyGossip, &g)
		return err
	})
	return g.Keys, err
}

// AgentGossip records the gossip address the pool reports for an enrolled
// agent (an agent that picked its port itself could not give it at
// enrollment), so nodes rejoin it from Raft at every start.
type AgentGossip struct {
	AgentID    string `json:"agentId"`
	GossipAddr string `json:"gossipAddr"`
}

func applyAgentGossip(e *entry) (any, *api.Error) {
	p, aerr := decodePayload[AgentGossip](e)
	if aerr != nil {
		return nil, aerr
	}
	if len(p.GossipAddr) > 256 {
		return nil, api.Errorf(api.CodeInvalidField, "gossip address too long")
	}
	key := strKey(prefixAgent, p.AgentID)
	b, ok := e.w.get(key)
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "agent %q is not enrolled", p.AgentID)
	}
	var a Agent
	if err := json.Unmarshal(b, &a); err != nil {
		panic(fmt.Sprintf("fsm: agent %s: %v", p.AgentID, err))
	}
	if a.GossipAddr != p.GossipAddr && !a.Revoked {
		a.GossipAddr = p.GossipAddr
		ab, _ := json.Marshal(a)
		e.w.set(key, ab)
	}
	return api.WriteResult{Index: e.index}, nil
}
