package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/controlplane/store"
	"touchpoint.dev/touchpoint/protocol/api"
)

func (s *Server) selfStatus() api.NodeStatus {
	term, last, commit, applied := s.store.Indexes()
	leader, _ := s.store.Leader()
	ci, _ := s.state.Cluster()
	return api.NodeStatus{
		ID: s.store.ID(), RaftAddr: s.store.RaftAddr(), HTTPAddr: s.cfg.HTTPAddr,
		State: s.store.State(), Term: term, LastIndex: last, CommitIndex: commit, AppliedIndex: applied,
		Leader: leader, ClusterID: ci.ClusterID, Version: s.cfg.Version, Disk: s.cfg.Disk.Status(),
	}
}

func (s *Server) self(context.Context, *request) (any, error) {
	return s.selfStatus(), nil
}

// membership answers whether a node is in this node's Raft configuration.
// It needs no token: a node the cluster removed while it was down asks its
// old peers at start and holds no token, and the answer tells no more than
// whether an id is a member.
func (s *Server) membership(w http.ResponseWriter, r *http.Request) {
	servers, err := s.store.Servers()
	if err != nil {
		api.WriteError(w, storeError(err))
		return
	}
	m := api.Membership{ID: r.PathValue("id"), Node: s.store.ID()}
	for _, sv := range servers {
		m.Member = m.Member || sv.ID == m.ID
	}
	m.Leader, _ = s.store.Leader()
	ci, err := s.state.Cluster()
	if err != nil {
		api.WriteError(w, err)
		return
	}
	m.ClusterID = ci.ClusterID
	api.WriteJSON(w, http.StatusOK, m)
}

// peerTimeout bounds asking one node for its state in cluster status.
const peerTimeout = 1500 * time.Millisecond

func (s *Server) clusterStatus(ctx context.Context, q *request) (any, error) {
	servers, err := s.store.Servers()
	if err != nil {
		return nil, storeError(err)
	}
	nodes, err := s.state.Nodes()
	if err != nil {
		return nil, err
	}
	// By id: the Raft configuration's order changes as members come and go.
	slices.SortFunc(servers, func(a, b store.Server) int { return strings.Compare(a.ID, b.ID) })
	me := s.selfStatus()
	st := api.ClusterStatus{ClusterID: me.ClusterID, Leader: me.Leader, Term: me.Term, Nodes: make([]api.ClusterNode, len(servers))}
	var wg sync.WaitGroup
	for i, sv := range servers {
		n := api.ClusterNode{ID: sv.ID, Address: sv.Address, Suffrage: sv.Suffrage, HTTPAddr: nodes[sv.ID].HTTPAddr}
		if sv.ID == me.ID {
			n.State, n.LastIndex, n.HTTPAddr, n.Disk = me.State, me.LastIndex, me.HTTPAddr, me.Disk
			st.Nodes[i] = n
			continue
		}
		st.Nodes[i] = n
		if n.HTTPAddr == "" {
			st.Nodes[i].State = api.StateUnreachable
			st.Nodes[i].Error = "admin address not registered"
			continue
		}
		wg.Add(1)
		go func(i int, n api.ClusterNode) {
			defer wg.Done()
			ps, err := s.askPeer(ctx, n.HTTPAddr, q.r.Header.Get("Authorization"))
			if err != nil {
				st.Nodes[i].State = api.StateUnreachable
				st.Nodes[i].Error = peerError(err)
				return
			}
			st.Nodes[i].State, st.Nodes[i].LastIndex, st.Nodes[i].Disk = ps.State, ps.LastIndex, ps.Disk
		}(i, n)
	}
	wg.Wait()
	return st, nil
}

// peerError says why a node did not answer cluster status, without the
// request's own method and URL: the row already names the node and its
// address.
func peerError(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %v", peerTimeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	}
	return api.Cause(err).Error()
}

func (s *Server) askPeer(ctx context.Context, addr, auth string) (*api.NodeStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, peerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.Scheme+"://"+addr+"/v1/cluster/self", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", auth)
	resp, err := s.fwd.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var ns api.NodeStatus
	if err := json.NewDecoder(resp.Body).Decode(&ns); err != nil {
		return nil, err
	}
	return &ns, nil
}

func (s *Server) join(ctx context.Context, q *request) (any, error) {
	var jr api.JoinRequest
	if err := decodeStrict(q.body, &jr); err != nil {
		return nil, err
	}
	if jr.ID == "" || jr.RaftAddr == "" || jr.HTTPAddr == "" {
		return nil, api.Errorf(api.CodeMissingField, "join needs id, raftAddr and httpAddr")
	}
	if err := s.store.AddVoter(jr.ID, jr.RaftAddr); err != nil {
		return nil, storeError(err)
	}
	var out writeResult
	res, err := s.propose(ctx, q, fsm.CmdNodeRegister, fsm.NodeRegister{ID: jr.ID, RaftAddr: jr.RaftAddr, HTTPAddr: jr.HTTPAddr,
		QUICAddr: jr.QUICAddr, GossipAddr: jr.GossipAddr}, nil)
	if err != nil {
		return nil, err
	}
	out.Index = res.Index
	s.log.Info("node joined", "id", jr.ID, "raft", jr.RaftAddr, "http", jr.HTTPAddr)
	return &out, nil
}

func (s *Server) remove(ctx context.Context, q *request) (any, error) {
	var rr api.RemoveRequest
	if err := decodeStrict(q.body, &rr); err != nil {
		return nil, err
	}
	if rr.ID == "" {
		return nil, api.Errorf(api.CodeMissingField, "remove needs the node id")
	}
	servers, err := s.store.Servers()
	if err != nil {
		return nil, storeError(err)
	}
	found := false
	for _, sv := range servers {
		found = found || sv.ID == rr.ID
	}
	if !found {
		return nil, api.Errorf(api.CodeNotFound, "node %q is not a member of the cluster", rr.ID)
	}
	if rr.ID == s.store.ID() {
		return nil, api.Errorf(api.CodeConflict, "node %q is the leader; stop it (leadership moves) and remove it from another node", rr.ID)
	}
	if err := s.store.RemoveServer(rr.ID); err != nil {
		return nil, storeError(err)
	}
	res, err := s.propose(ctx, q, fsm.CmdNodeRemove, fsm.NodeRemove{ID: rr.ID}, nil)
	if err != nil {
		return nil, err
	}
	s.log.Info("node removed", "id", rr.ID)
	return &writeResult{Index: res.Index}, nil
}

// serveSnapshot streams a snapshot out (GET) or restores one (POST). The
// upload is spooled to disk and verified before raft sees it.
func (s *Server) serveSnapshot(w http.ResponseWriter, r *http.Request, roles []string) {
	if r.Method == http.MethodGet {
		if !isStale(r) && !s.store.IsLeader() {
			s.forward(w, r, nil, jobTimeout)
			return
		}
		if _, err := s.authenticate(r, roles); err != nil {
			api.WriteError(w, err)
			return
		}
		if !isStale(r) {
			if err := s.store.ReadIndex(r.Context()); err != nil {
				api.WriteError(w, storeError(err))
				return
			}
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="touchpoint.snap"`)
		if err := s.state.WriteSnapshot(w); err != nil {
			s.log.Error("write snapshot", "error", err)
		}
		return
	}
	// Only an admin may make this node spool gigabytes to its disk.
	who, err := s.authenticate(r, roles)
	if err != nil {
		api.WriteError(w, err)
		return
	}
	// Spool the upload to disk: a snapshot can be far larger than memory
	// should hold, and a follower forwards it from the file.
	tmp, err := os.CreateTemp(s.cfg.TmpDir, "restore-*.snap")
	if err != nil {
		api.WriteError(w, api.Errorf(api.CodeInternal, "spool snapshot: %v", err))
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := io.Copy(tmp, http.MaxBytesReader(w, r.Body, limitSnapshot))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			api.WriteError(w, api.Errorf(api.CodeBodyTooLarge, "snapshot exceeds %d bytes", int64(limitSnapshot)))
			return
		}
		api.WriteError(w, api.Errorf(api.CodeBadRequest, "read snapshot: %v", err))
		return
	}
	if !s.store.IsLeader() {
		s.forwardFrom(w, r, tmp, jobTimeout)
		return
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		api.WriteError(w, api.Errorf(api.CodeInternal, "%v", err))
		return
	}
	if err := fsm.VerifySnapshot(tmp); err != nil {
		api.WriteError(w, api.Errorf(api.CodeInvalidSnapshot, "%v; nothing was changed", err))
		return
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		api.WriteError(w, api.Errorf(api.CodeInternal, "%v", err))
		return
	}
	before, err := s.state.Cluster()
	if err != nil {
		api.WriteError(w, api.Errorf(api.CodeInternal, "%v", err))
		return
	}
	if err := s.store.Restore(tmp, n); err != nil {
		api.WriteError(w, storeError(err))
		return
	}
	// A new epoch, above both the replaced and the restored one, tells
	// followers of the change feed to resynchronise.
	reqID := r.Header.Get(api.HeaderRequestID)
	if reqID == "" {
		reqID = api.NewRequestID()
	}
	q := &request{r: r, who: who, reqID: reqID}
	res, err := s.propose(r.Context(), q, fsm.CmdRestored, fsm.Restored{Epoch: before.Epoch + 1, ReopenSequences: true}, nil)
	if err != nil {
		api.WriteError(w, storeError(err))
		return
	}
	s.log.Info("snapshot restored", "bytes", n, "index", res.Index)
	w.Header().Set(api.HeaderIndex, strconv.FormatUint(res.Index, 10))
	api.WriteJSON(w, http.StatusOK, api.WriteResult{Index: res.Index})
}
