package adminapi

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/controlplane/store"
	"touchpoint.dev/touchpoint/protocol/api"
)

// orderStore is a one-node view of a three-node configuration listed out
// of id order, as Raft may list it after members come and go. The methods
// cluster status does not call are left to the nil embedded Store.
type orderStore struct {
	Store
	servers []store.Server
}

func (orderStore) ID() string                                { return "n1" }
func (orderStore) RaftAddr() string                          { return "127.0.0.1:7001" }
func (orderStore) State() string                             { return api.StateLeader }
func (orderStore) Leader() (string, string)                  { return "n1", "127.0.0.1:7001" }
func (orderStore) Indexes() (uint64, uint64, uint64, uint64) { return 2, 9, 9, 9 }
func (s orderStore) Servers() ([]store.Server, error)        { return slices.Clone(s.servers), nil }

type orderState struct{ State }

// Nodes registers no admin address for the others: they are shown
// unreachable without being dialled.
func (orderState) Nodes() (map[string]fsm.NodeRegister, error) { return nil, nil }
func (orderState) Cluster() (fsm.ClusterInfo, error) {
	return fsm.ClusterInfo{ClusterID: "tp-test"}, nil
}

func TestClusterStatus_ListsNodesByID(t *testing.T) {
	st := orderStore{servers: []store.Server{
		{ID: "n3", Address: "127.0.0.1:7003", Suffrage: "Voter"},
		{ID: "n1", Address: "127.0.0.1:7001", Suffrage: "Voter"},
		{ID: "n2", Address: "127.0.0.1:7002", Suffrage: "Voter"},
	}}
	s := &Server{store: st, state: orderState{}}
	got, err := s.clusterStatus(context.Background(), &request{r: httptest.NewRequest("GET", "/v1/cluster/status", nil)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range got.(api.ClusterStatus).Nodes {
		ids = append(ids, n.ID)
	}
	if want := []string{"n1", "n2", "n3"}; !slices.Equal(ids, want) {
		t.Errorf("nodes %v, want %v", ids, want)
	}
}
