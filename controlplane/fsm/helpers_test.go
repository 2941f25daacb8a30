package fsm_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// baseTime is the leader clock every test command carries (entry i is
// stamped i seconds later), so results never depend on the machine's clock.
var baseTime = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// openFSM opens a state machine in dir (a new temporary directory when dir is
// empty) and closes it when the test ends.
func openFSM(t *testing.T, cfg fsm.Config) *fsm.FSM {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	f, err := fsm.Open(cfg)
	if err != nil {
		t.Fatalf("open fsm in %s: %v", cfg.Dir, err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("close fsm: %v", err)
		}
	})
	return f
}

// command is one entry to feed the FSM before it is given an index.
type command struct {
	typ     fsm.CommandType
	flags   uint8
	rid     string
	payload any
}

func encode(t testing.TB, c command, idx uint64) []byte {
	t.Helper()
	env := fsm.Envelope{
		RequestID: c.rid,
		Time:      baseTime.Add(time.Duration(idx) * time.Second).UnixNano(),
		Actor:     "tok-admin",
		Role:      api.RoleAdmin,
	}
	b, err := fsm.Encode(c.typ, c.flags, env, c.payload)
	if err != nil {
		t.Fatalf("encode %s: %v", c.typ, err)
	}
	return b
}

func logAt(t testing.TB, idx uint64, c command) *raft.Log {
	t.Helper()
	return &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: encode(t, c, idx)}
}

// apply applies c at idx and returns the result.
func apply(t testing.TB, f *fsm.FSM, idx uint64, c command) *fsm.Result {
	t.Helper()
	return asResult(t, f.Apply(logAt(t, idx, c)))
}

func asResult(t testing.TB, v any) *fsm.Result {
	t.Helper()
	r, ok := v.(*fsm.Result)
	if !ok {
		t.Fatalf("Apply returned %T, want *fsm.Result", v)
	}
	return r
}

// applyOK applies c at idx and fails the test unless it succeeded.
func applyOK(t testing.TB, f *fsm.FSM, idx uint64, c command) *fsm.Result {
	t.Helper()
	r := apply(t, f, idx, c)
	if r.Err != nil || r.Skipped || r.Duplicate {
		t.Fatalf("apply %s at %d: err=%v skipped=%v duplicate=%v", c.typ, idx, r.Err, r.Skipped, r.Duplicate)
	}
	if r.Index != idx {
		t.Fatalf("apply %s at %d: result index %d", c.typ, idx, r.Index)
	}
	return r
}

// applyAll applies cmds at indexes from, from+1, ... one Apply each.
func applyAll(t testing.TB, f *fsm.FSM, from uint64, cmds ...command) uint64 {
	t.Helper()
	idx := from
	for _, c := range cmds {
		applyOK(t, f, idx, c)
		idx++
	}
	return idx - 1
}

// Catalogue documents in the canonical form catalog.Parse produces.

func offer(id string, value float64) fsm.CatalogDoc {
	return fsm.CatalogDoc{Kind: string(protocol.KindOffer), ID: id,
		Doc: mustJSON(protocol.Offer{Kind: protocol.KindOffer, ID: id, Category: protocol.CategoryRetention, Value: value, Cost: 5})}
}

func tariffOffer(id, planID string) fsm.CatalogDoc {
	return fsm.CatalogDoc{Kind: string(protocol.KindOffer), ID: id,
		Doc:  mustJSON(protocol.Offer{Kind: protocol.KindOffer, ID: id, Category: protocol.CategoryTariff, Value: 30, PlanID: planID}),
		Refs: []fsm.ObjectRef{{Kind: string(protocol.KindPlan), ID: planID}}}
}

func plan(id string, fee float64) fsm.CatalogDoc {
	return fsm.CatalogDoc{Kind: string(protocol.KindPlan), ID: id,
		Doc: mustJSON(protocol.Plan{Kind: protocol.KindPlan, ID: id, MonthlyFee: fee})}
}

func campaign(id string, offers ...string) fsm.CatalogDoc {
	d := fsm.CatalogDoc{Kind: string(protocol.KindCampaign), ID: id,
		Doc: mustJSON(protocol.Campaign{Kind: protocol.KindCampaign, ID: id, Offers: offers, ControlGroupPercent: 10})}
	for _, o := range offers {
		d.Refs = append(d.Refs, fsm.ObjectRef{Kind: string(protocol.KindOffer), ID: o})
	}
	return d
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func catalogApply(rid string, docs ...fsm.CatalogDoc) command {
	return command{typ: fsm.CmdCatalogApply, rid: rid, payload: fsm.CatalogApply{Docs: docs}}
}

func catalogDelete(rid string, kind protocol.Kind, id string) command {
	return command{typ: fsm.CmdCatalogDelete, rid: rid, payload: fsm.CatalogDelete{Kind: string(kind), ID: id}}
}

func initCluster(clusterID string) command {
	return command{typ: fsm.CmdInitCluster, payload: fsm.InitCluster{ClusterID: clusterID, TokenID: "tok-admin",
		TokenHash: fmt.Sprintf("%064x", 1)}}
}

// state is everything the FSM's read methods expose, in a form that compares
// with ==.
type state struct {
	Applied uint64
	Cluster fsm.ClusterInfo
	Objects []string
	Feed    string
	Audit   string
	Tokens  string
	Nodes   string
}

func readState(t *testing.T, f *fsm.FSM) state {
	t.Helper()
	s := state{Applied: f.Applied()}
	var err error
	if s.Cluster, err = f.Cluster(); err != nil {
		t.Fatalf("cluster: %v", err)
	}
	for _, k := range protocol.Kinds {
		objs, err := f.List(string(k))
		if err != nil {
			t.Fatalf("list %s: %v", k, err)
		}
		for _, o := range objs {
			s.Objects = append(s.Objects, fmt.Sprintf("%s/%s@%d %s", o.Kind, o.ID, o.Index, o.Doc))
		}
	}
	feed, err := f.Changes(0, 0)
	if err != nil {
		t.Fatalf("changes: %v", err)
	}
	feed.Index = 0 // the applied index, compared on its own
	s.Feed = string(mustJSON(feed))
	audit, err := f.Audit(0)
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	s.Audit = string(mustJSON(audit))
	tokens, err := f.Tokens()
	if err != nil {
		t.Fatalf("tokens: %v", err)
	}
	s.Tokens = string(mustJSON(tokens))
	nodes, err := f.Nodes()
	if err != nil {
		t.Fatalf("nodes: %v", err)
	}
	s.Nodes = string(mustJSON(nodes))
	return s
}

func assertSameState(t *testing.T, got, want state) {
	t.Helper()
	if got.Applied != want.Applied {
		t.Errorf("applied = %d, want %d", got.Applied, want.Applied)
	}
	if got.Cluster != want.Cluster {
		t.Errorf("cluster = %+v, want %+v", got.Cluster, want.Cluster)
	}
	if fmt.Sprint(got.Objects) != fmt.Sprint(want.Objects) {
		t.Errorf("objects differ:\n got %q\nwant %q", got.Objects, want.Objects)
	}
	for _, c := range []struct{ name, got, want string }{
		{"change feed", got.Feed, want.Feed},
		{"audit", got.Audit, want.Audit},
		{"tokens", got.Tokens, want.Tokens},
		{"nodes", got.Nodes, want.Nodes},
	} {
		if c.got != c.want {
			t.Errorf("%s differs:\n got %s\nwant %s", c.name, c.got, c.want)
		}
	}
}

func applyResult(t *testing.T, r *fsm.Result) api.ApplyResult {
	t.Helper()
	var ar api.ApplyResult
	if err := json.Unmarshal(r.Data, &ar); err != nil {
		t.Fatalf("decode apply result %s: %v", r.Data, err)
	}
	return ar
}

func getObject(t *testing.T, f *fsm.FSM, kind protocol.Kind, id string) (api.Object, bool) {
	t.Helper()
	o, ok, err := f.Get(string(kind), id)
	if err != nil {
		t.Fatalf("get %s/%s: %v", kind, id, err)
	}
	return o, ok
}
