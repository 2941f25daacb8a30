package fsm

import (
	"encoding/json"
	"time"

	"touchpoint.dev/touchpoint/protocol/api"
)

// ClusterInfo is the cluster's identity. Epoch changes when an operator
// restores a snapshot, so followers of the change feed can tell a restored
// cluster from a stale node.
type ClusterInfo struct {
	ClusterID string `json:"clusterId"`
	Epoch     uint64 `json:"epoch"`
}

type storedToken struct {
	ID      string    `json:"id"`
	Role    string    `json:"role"`
	Name    string    `json:"name,omitempty"`
	Created time.Time `json:"created"`
}

func applyInit(e *entry) (any, *api.Error) {
	p, aerr := decodePayload[InitCluster](e)
	if aerr != nil {
		return nil, aerr
	}
	if _, ok := e.w.get(keyCluster); ok {
		return nil, api.Errorf(api.CodeConflict, "the cluster is already initialised")
	}
	b, _ := json.Marshal(ClusterInfo{ClusterID: p.ClusterID, Epoch: 1})
	e.w.set(keyCluster, b)
	tb, _ := json.Marshal(storedToken{ID: p.TokenID, Role: api.RoleAdmin, Name: "bootstrap", Created: e.time()})
	e.w.set(strKey(prefixToken, p.TokenHash), tb)
	if p.CA != nil {
		cb, _ := json.Marshal(p.CA)
		e.w.set(keyCA, cb)
	}
	e.addAudit("cluster.init", p.ClusterID, "bootstrap admin token "+p.TokenID)
	return nil, nil
}

func applyTokenCreate(e *entry) (any, *api.Error) {
	p, aerr := decodePayload[TokenCreate](e)
	if aerr != nil {
		return nil, aerr
	}
	if !api.ValidRole(p.Role) {
		return nil, api.Errorf(api.CodeInvalidField, "unknown role %q; roles are %v", p.Role, api.Roles)
	}
	if len(p.TokenHash) != 64 || p.TokenID == "" {
		return nil, api.Errorf(api.CodeBadRequest, "token hash and id required")
	}
	key := strKey(prefixToken, p.TokenHash)
	if _, ok := e.w.get(key); ok {
		return nil, api.Errorf(api.CodeConflict, "token already exists")
	}
	b, _ := json.Marshal(storedToken{ID: p.TokenID, Role: p.Role, Name: p.Name, Created: e.time()})
	e.w.set(key, b)
	e.addAudit("token.create", p.TokenID, "role "+p.Role)
	return nil, nil
}

func applyTokenRevoke(e *entry) (any, *api.Error) {
	p, aerr := decodePayload[TokenRevoke](e)
	if aerr != nil {
		return nil, aerr
	}
	key := strKey(prefixToken, p.TokenHash)
	b, ok := e.w.get(key)
	var st storedToken
	if ok {
		_ = json.Unmarshal(b, &st)
	}
	if !ok || st.ID != p.TokenID {
		return nil, api.Errorf(api.CodeNotFound, "no token %q", p.TokenID)
	}
	e.w.del(key)
	e.addAudit("token.revoke", p.TokenID, "role "+st.Role)
	return nil, nil
}

func applyNodeRegister(e *entry) (any, *api.Error) {
	p, aerr := decodePayload[NodeRegister](e)
	if aerr != nil {
		return nil, aerr
	}
	if p.ID == "" {
		return nil, api.Errorf(api.CodeMissingField, "node id required")
	}
	b, _ := json.Marshal(p)
	key := strKey(prefixNode, p.ID)
	if prev, ok := e.w.get(key); ok && string(prev) == string(b) {
		return nil, nil
	}
	e.w.set(key, b)
	details := "raft " + p.RaftAddr + " http " + p.HTTPAddr
	if p.QUICAddr != "" {
		details += " quic " + p.QUICAddr
	}
	if p.GossipAddr != "" {
		details += " gossip " + p.GossipAddr
	}
	e.addAudit("node.register", p.ID, details)
	return nil, nil
}

func applyNodeRemove(e *entry) (any, *api.Error) {
	p, aerr := decodePayload[NodeRemove](e)
	if aerr != nil {
		return nil, aerr
	}
	key := strKey(prefixNode, p.ID)
	if _, ok := e.w.get(key); ok {
		e.w.del(key)
	}
	e.addAudit("node.remove", p.ID, "")
	return nil, nil
}

func applyRestored(e *entry) (any, *api.Error) {
	p, aerr := decodePayload[Restored](e)
	if aerr != nil {
		return nil, aerr
	}
	var ci ClusterInfo
	if b, ok := e.w.get(keyCluster); ok {
		_ = json.Unmarshal(b, &ci)
	}
	if p.Epoch <= ci.Epoch {
		p.Epoch = ci.Epoch + 1
	}
	ci.Epoch = p.Epoch
	b, _ := json.Marshal(ci)
	e.w.set(keyCluster, b)
	// Every follower of the feed must resynchronise from a full snapshot:
	// Changes answers any index below the floor with one. The records below
	// it are left to prune, which deletes a bounded number at a time (the
	// feed can hold more than one transaction may delete).
	e.w.set(keyChgFloor, u64(e.index))
	if p.ReopenSequences {
		e.w.set(keyLedgerReopen, u64(e.index))
	}
	// Every follower of the feed must resynchronise: the floor sends them
	// a snapshot, and the change index tells watchers to look.
	e.w.lastChange = e.index
	e.w.set(keyLastChange, u64(e.index))
	e.w.fleet = true
	e.addAudit("cluster.restore", ci.ClusterID, "epoch "+itoa(ci.Epoch))
	return api.WriteResult{Index: e.index}, nil
}

func itoa(v uint64) string {
	b, _ := json.Marshal(v)
	return string(b)
}
