package main

import (
	"bytes"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/protocol/api"
)

// Right after kill -9 of the leader the other nodes still name it: the
// status says it is not answering instead of presenting it as the leader.
func TestPrintClusterStatus_SilentLeaderIsSaidSo(t *testing.T) {
	st := &api.ClusterStatus{Leader: "n3", Nodes: []api.ClusterNode{
		{ID: "n1", Address: "127.0.0.1:7001", State: api.StateFollower, LastIndex: 9},
		{ID: "n3", Address: "127.0.0.1:7003", HTTPAddr: "127.0.0.1:7403", State: api.StateUnreachable, Error: "connection refused"},
	}}
	var b bytes.Buffer
	if err := (&env{stdout: &b, lang: "en"}).printClusterStatus(st, nil); err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(b.String(), "\n")
	if first != "leader: n3 (not answering: the others elect a new leader within seconds)" {
		t.Fatalf("first line %q", first)
	}
	st.Nodes[1].State, st.Nodes[1].Error = api.StateLeader, ""
	b.Reset()
	if err := (&env{stdout: &b, lang: "en"}).printClusterStatus(st, nil); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(b.String(), "\n"); first != "leader: n3" {
		t.Fatalf("first line with the leader answering: %q", first)
	}
}
