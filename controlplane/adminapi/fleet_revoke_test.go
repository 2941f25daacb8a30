package adminapi_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"touchpoint.dev/touchpoint/controlplane/adminapi"
	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol/api"
)

// soloStore is a one-node "cluster": the leader, applying each command to
// a real FSM at the next index. It counts the entries written.
type soloStore struct {
	adminapi.Store // the methods revoke does not use
	f              *fsm.FSM
	mu             sync.Mutex
	idx            uint64
}

func (s *soloStore) ID() string               { return "n1" }
func (s *soloStore) IsLeader() bool           { return true }
func (s *soloStore) State() string            { return "leader" }
func (s *soloStore) Leader() (string, string) { return "n1", "" }
func (s *soloStore) Indexes() (term, last, commit, applied uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return 1, s.idx, s.idx, s.idx
}
func (s *soloStore) ReadIndex(context.Context) error { return nil }

func (s *soloStore) Apply(_ context.Context, cmd []byte) (*fsm.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idx++
	return s.f.Apply(&raft.Log{Index: s.idx, Term: 1, Type: raft.LogCommand, Data: cmd}).(*fsm.Result), nil
}

func (s *soloStore) applied() uint64 {
	_, _, _, a := s.Indexes()
	return a
}

// liveMap is a fixed live view of the fleet.
type liveMap map[string]api.FleetAgent

func (m liveMap) LiveAgents() map[string]api.FleetAgent { return m }

// soloAPI serves the admin API of a one-node cluster whose registry holds
// agents, with live as the node's view of them. It answers an admin client.
func soloAPI(t *testing.T, live liveMap, agents ...string) (*api.Client, *soloStore, *fsm.FSM) {
	t.Helper()
	f, err := fsm.Open(fsm.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	st := &soloStore{f: f}
	now := time.Now()
	run := func(typ fsm.CommandType, payload any) {
		t.Helper()
		cmd, err := fsm.Encode(typ, 0, fsm.Envelope{Time: now.UnixNano(), Actor: "test", Role: api.RoleAdmin}, payload)
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := st.Apply(context.Background(), cmd); r.Err != nil {
			t.Fatalf("%s: %v", typ, r.Err)
		}
	}
	secret := fmt.Sprintf("%064x", 7)
	run(fsm.CmdInitCluster, fsm.InitCluster{ClusterID: "tp-test", TokenID: "tok-admin", TokenHash: adminapi.HashToken("admin-secret"),
		CA: &fsm.ClusterCA{CertPEM: "-----BEGIN CERTIFICATE-----", KeyPEM: "-----BEGIN PRIVATE KEY-----"}})
	run(fsm.CmdJoinToken, fsm.JoinTokenCreate{TokenID: "j1", SecretHash: secret, Expires: now.Add(time.Hour).UnixNano(), Uses: 100})
	for _, id := range agents {
		run(fsm.CmdAgentEnroll, fsm.AgentEnroll{TokenID: "j1", SecretHash: secret, AgentID: id, Site: "sh-01", Channel: "kiosk", CertSerial: "01"})
	}
	srv := httptest.NewServer(adminapi.New(adminapi.Config{Fleet: live}, st, f))
	t.Cleanup(srv.Close)
	return api.NewClient(srv.URL, "admin-secret", nil), st, f
}

// A revoked agent's outbox is never delivered: without force, revoke
// refuses (conflict) an agent that reports a backlog or whose backlog is
// unknown (not connected, or never heard from), says how many contacts are
// at stake and what to do, and writes nothing. With force, or with an
// empty outbox reported live, it revokes.
func TestFleetRevoke_RefusedWhileTheOutboxMayHoldContactsUnlessForced(t *testing.T) {
	seen := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	live := liveMap{
		"backlog": {ID: "backlog", Status: api.AgentAlive, OutboxBacklog: 12},
		"frozen":  {ID: "frozen", Status: api.AgentDead, OutboxBacklog: 3, LastSeen: seen},
		"drained": {ID: "drained", Status: api.AgentAlive, OutboxBacklog: 0},
		"suspect": {ID: "suspect", Status: api.AgentSuspect, OutboxBacklog: 0},
	}
	cl, st, f := soloAPI(t, live, "backlog", "frozen", "silent", "drained", "suspect")
	ctx := context.Background()
	for _, c := range []struct {
		id   string
		want []string
	}{
		{"backlog", []string{"agent backlog reports 12 contact events in its outbox that the cluster has not received", "loses them"}},
		{"frozen", []string{"agent frozen is not connected (status dead, last seen 2026-03-01T09:00:00Z)", "unknown (it last reported 3 contact events)"}},
		{"silent", []string{"agent silent has not reported", "unknown"}},
		{"suspect", []string{"agent suspect is not connected (status suspect"}},
	} {
		before := st.applied()
		_, err := cl.RevokeAgent(ctx, api.RevokeRequest{ID: c.id})
		ae := wantCode(t, c.id, err, api.CodeConflict)
		for _, w := range append(c.want, "touchpoint fleet revoke --force "+c.id, "reconnect the agent") {
			if !strings.Contains(ae.Message, w) {
				t.Errorf("%s: message %q does not say %q", c.id, ae.Message, w)
			}
		}
		if a, _, _ := f.Agent(c.id); a.Revoked || st.applied() != before {
			t.Errorf("%s: a refused revoke wrote (revoked %v, index %d -> %d)", c.id, a.Revoked, before, st.applied())
		}
	}

	res, err := cl.RevokeAgent(ctx, api.RevokeRequest{ID: "drained"})
	if err != nil || res.Index == 0 || res.AlreadyRevoked || res.LostBacklog != 0 || res.BacklogUnknown {
		t.Fatalf("revoke of an agent reporting an empty outbox: %+v %v", res, err)
	}
	for _, c := range []struct {
		id      string
		lost    uint64
		unknown bool
	}{{"backlog", 12, false}, {"frozen", 3, true}, {"silent", 0, true}} {
		res, err := cl.RevokeAgent(ctx, api.RevokeRequest{ID: c.id, Force: true})
		if err != nil || res.Index == 0 || res.LostBacklog != c.lost || res.BacklogUnknown != c.unknown {
			t.Errorf("forced revoke of %s: %+v %v, want lostBacklog %d, backlogUnknown %v", c.id, res, err, c.lost, c.unknown)
		}
		if a, _, _ := f.Agent(c.id); !a.Revoked {
			t.Errorf("forced revoke of %s: not revoked", c.id)
		}
	}
	// An id never enrolled is still not_found, checks or not.
	_, err = cl.RevokeAgent(ctx, api.RevokeRequest{ID: "ghost"})
	wantCode(t, "ghost", err, api.CodeNotFound)
}

// Revoking a revoked agent answers 200 alreadyRevoked with the first
// revocation's time, and writes no Raft entry.
func TestFleetRevoke_SecondRevokeSaysAlreadyRevokedAndWritesNothing(t *testing.T) {
	cl, st, f := soloAPI(t, liveMap{"kiosk-1": {ID: "kiosk-1", Status: api.AgentAlive}}, "kiosk-1")
	ctx := context.Background()
	first, err := cl.RevokeAgent(ctx, api.RevokeRequest{ID: "kiosk-1"})
	if err != nil || first.AlreadyRevoked || first.Index == 0 || first.RevokedAt.IsZero() {
		t.Fatalf("first revoke: %+v %v", first, err)
	}
	before := st.applied()
	for _, force := range []bool{false, true} {
		again, err := cl.RevokeAgent(ctx, api.RevokeRequest{ID: "kiosk-1", Force: force})
		if err != nil || !again.AlreadyRevoked || again.Index != 0 || !again.RevokedAt.Equal(first.RevokedAt) {
			t.Fatalf("second revoke (force %v): %+v %v, want alreadyRevoked at %s", force, again, err, first.RevokedAt)
		}
	}
	if st.applied() != before {
		t.Fatalf("a second revoke wrote entries %d to %d", before+1, st.applied())
	}
	if a, _, _ := f.Agent("kiosk-1"); !a.RevokedAt.Equal(first.RevokedAt) {
		t.Fatalf("revokedAt moved to %s", a.RevokedAt)
	}
}
