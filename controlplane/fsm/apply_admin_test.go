package fsm_test

import (
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func TestFSM_InitClusterOnce(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, initCluster("cl-1"))
	ci, err := f.Cluster()
	if err != nil {
		t.Fatal(err)
	}
	if ci != (fsm.ClusterInfo{ClusterID: "cl-1", Epoch: 1}) {
		t.Errorf("cluster = %+v", ci)
	}
	tok, ok, err := f.Token(strings.Repeat("0", 63) + "1")
	if err != nil || !ok || tok.ID != "tok-admin" || tok.Role != api.RoleAdmin || !tok.Created.Equal(baseTime.Add(time.Second)) {
		t.Errorf("bootstrap token = %+v found=%v err=%v", tok, ok, err)
	}
	if r := apply(t, f, 2, initCluster("cl-2")); r.Err == nil || r.Err.Code != api.CodeConflict {
		t.Errorf("second init: err = %v, want %s", r.Err, api.CodeConflict)
	}
	if ci, _ := f.Cluster(); ci.ClusterID != "cl-1" {
		t.Errorf("second init replaced the cluster id: %+v", ci)
	}
}

func TestFSM_TokenCreate(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	tests := []struct {
		name     string
		p        fsm.TokenCreate
		wantCode api.Code
	}{
		{"valid", fsm.TokenCreate{TokenID: "t1", TokenHash: hash, Role: api.RoleViewer}, ""},
		{"unknown role", fsm.TokenCreate{TokenID: "t1", TokenHash: hash, Role: "root"}, api.CodeInvalidField},
		{"short hash", fsm.TokenCreate{TokenID: "t1", TokenHash: "ab", Role: api.RoleViewer}, api.CodeBadRequest},
		{"no id", fsm.TokenCreate{TokenHash: hash, Role: api.RoleViewer}, api.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := openFSM(t, fsm.Config{})
			r := apply(t, f, 1, command{typ: fsm.CmdTokenCreate, payload: tt.p})
			_, found, err := f.Token(hash)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantCode == "" {
				if r.Err != nil || !found {
					t.Fatalf("err = %v, found = %v", r.Err, found)
				}
				if r := apply(t, f, 2, command{typ: fsm.CmdTokenCreate, payload: tt.p}); r.Err == nil || r.Err.Code != api.CodeConflict {
					t.Errorf("same hash again: err = %v, want %s", r.Err, api.CodeConflict)
				}
				return
			}
			if r.Err == nil || r.Err.Code != tt.wantCode || found {
				t.Errorf("err = %v (want %s), stored = %v", r.Err, tt.wantCode, found)
			}
		})
	}
}

func TestFSM_NodeRegistry(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	reg := fsm.NodeRegister{ID: "cp1", RaftAddr: "10.0.0.1:7000", HTTPAddr: "10.0.0.1:8443"}
	applyOK(t, f, 1, command{typ: fsm.CmdNodeRegister, payload: reg})
	applyOK(t, f, 2, command{typ: fsm.CmdNodeRegister, payload: reg}) // unchanged: no audit
	if r := apply(t, f, 3, command{typ: fsm.CmdNodeRegister, payload: fsm.NodeRegister{}}); r.Err == nil || r.Err.Code != api.CodeMissingField {
		t.Errorf("register without id: err = %v", r.Err)
	}
	nodes, err := f.Nodes()
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes["cp1"] != reg {
		t.Errorf("nodes = %+v", nodes)
	}
	applyOK(t, f, 4, command{typ: fsm.CmdNodeRemove, payload: fsm.NodeRemove{ID: "cp1"}})
	if nodes, _ := f.Nodes(); len(nodes) != 0 {
		t.Errorf("nodes after remove = %+v", nodes)
	}
	audit, err := f.Audit(0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range audit {
		got = append(got, a.Action)
	}
	if strings.Join(got, ",") != "node.register,node.remove" {
		t.Errorf("audit actions = %v", got)
	}
}

func TestFSM_RestoredBumpsEpochAndResetsFeed(t *testing.T) {
	tests := []struct {
		name      string
		epoch     uint64
		wantEpoch uint64
	}{
		{"no epoch given", 0, 2},
		{"stale epoch", 1, 2},
		{"operator's epoch", 7, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := openFSM(t, fsm.Config{})
			last := applyAll(t, f, 1,
				initCluster("cl-1"),
				catalogApply("", offer("retain-10", 60), plan("basic", 38)),
				catalogApply("", offer("upsell-5g", 20)))
			idx := last + 1
			applyOK(t, f, idx, command{typ: fsm.CmdRestored, payload: fsm.Restored{Epoch: tt.epoch}})

			ci, err := f.Cluster()
			if err != nil {
				t.Fatal(err)
			}
			if ci.Epoch != tt.wantEpoch || ci.ClusterID != "cl-1" {
				t.Errorf("cluster = %+v, want epoch %d", ci, tt.wantEpoch)
			}
			// Every reader that was behind the restore, up to date before it,
			// or starting from scratch gets a full snapshot.
			for _, after := range []uint64{0, 1, last} {
				feed, err := f.Changes(after, 0)
				if err != nil {
					t.Fatal(err)
				}
				if !feed.Snapshot || len(feed.Objects) != 3 || feed.Epoch != tt.wantEpoch || feed.Index != idx {
					t.Errorf("Changes(%d) = snapshot %v, %d objects, epoch %d, index %d; want a snapshot of 3 at epoch %d index %d",
						after, feed.Snapshot, len(feed.Objects), feed.Epoch, feed.Index, tt.wantEpoch, idx)
				}
			}
			// Changes after the restore flow normally again.
			applyOK(t, f, idx+1, catalogDelete("", protocol.KindOffer, "upsell-5g"))
			feed, err := f.Changes(idx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if feed.Snapshot || len(feed.Changes) != 1 || feed.Changes[0].Op != api.OpDelete {
				t.Errorf("Changes(%d) after restore = %+v", idx, feed)
			}
			audit, _ := f.Audit(1)
			if len(audit) != 1 || audit[0].Action != "catalog.delete" {
				t.Errorf("last audit entry = %+v", audit)
			}
			audit, _ = f.Audit(2)
			if len(audit) != 2 || audit[0].Action != "cluster.restore" {
				t.Errorf("restore not audited: %+v", audit)
			}
		})
	}
}
