package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/protocol/api"
)

// The table lists the nodes by id, whatever order the answer has them in
// (the Raft configuration's order changes as members come and go).
func TestPrintClusterStatus_ListsNodesByID(t *testing.T) {
	st := &api.ClusterStatus{Leader: "n1", Nodes: []api.ClusterNode{
		{ID: "n3", Address: "127.0.0.1:7003", Suffrage: "Voter", State: api.StateFollower},
		{ID: "n1", Address: "127.0.0.1:7001", Suffrage: "Voter", State: api.StateLeader},
		{ID: "n2", Address: "127.0.0.1:7002", Suffrage: "Voter", State: api.StateFollower},
	}}
	var b bytes.Buffer
	if err := (&env{stdout: &b, lang: "en"}).printClusterStatus(st, nil); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n")[2:] {
		ids = append(ids, strings.Fields(line)[0])
	}
	if want := []string{"n1", "n2", "n3"}; !slices.Equal(ids, want) {
		t.Errorf("rows %v, want %v:\n%s", ids, want, b.String())
	}
	if st.Nodes[0].ID != "n3" {
		t.Errorf("printing reordered the answer: %v", st.Nodes)
	}
}

// Without a leader the status says so in one line, and what it takes to
// elect one: a majority of the voters up (the exit status stays 0).
func TestPrintClusterStatus_NoLeaderSaysAMajorityMustBeUp(t *testing.T) {
	nodes := []api.ClusterNode{
		{ID: "n1", Address: "127.0.0.1:7001", Suffrage: "Voter", State: api.StateCandidate},
		{ID: "n2", Address: "127.0.0.1:7002", Suffrage: "Voter", State: api.StateUnreachable, Error: "connection refused"},
		{ID: "n3", Address: "127.0.0.1:7003", Suffrage: "Voter", State: api.StateUnreachable, Error: "connection refused"},
		{ID: "n4", Address: "127.0.0.1:7004", Suffrage: "Nonvoter", State: api.StateFollower},
	}
	for _, c := range []struct {
		name, lang string
		nodes      []api.ClusterNode
		want       string
	}{
		{"three voters", "en", nodes, "leader: none elected: 2 of the 3 voting nodes (a majority) must be up and reach each other to elect one"},
		{"chinese", "zh", nodes, "领导者：尚未选出：3 个投票节点中须有至少 2 个（多数）在线并互相连通，才能选出领导者"},
		{"no configuration", "en", nil, "leader: none elected: a majority of the voting nodes must be up and reach each other to elect one"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := (&env{stdout: &b, lang: c.lang}).printClusterStatus(&api.ClusterStatus{Nodes: c.nodes}, nil); err != nil {
				t.Fatal(err)
			}
			if first, _, _ := strings.Cut(b.String(), "\n"); first != c.want {
				t.Errorf("first line\n%q, want\n%q", first, c.want)
			}
		})
	}
}
