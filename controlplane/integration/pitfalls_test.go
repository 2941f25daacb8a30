package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane"
	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol/api"
)

func offerDoc(id string, value int) []byte {
	return []byte(fmt.Sprintf(`{"kind":"Offer","id":%q,"category":"upsell","value":%d,"cost":0}`, id, value))
}

func post(t *testing.T, url, token, reqID string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if reqID != "" {
		req.Header.Set(api.HeaderRequestID, reqID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// A write whose answer was lost is retried with the same request id (the
// CLI and the forwarding node both do): it must apply once.
func TestPitfall_RetriedForwardedWriteAppliesOnce(t *testing.T) {
	c := cptest.New(t, 3)
	f := c.Nodes[c.Follower()]
	url := f.URL() + "/v1/catalog"
	resp1, b1 := post(t, url, c.Token, "req-123", offerDoc("dup", 1))
	resp2, b2 := post(t, url, c.Token, "req-123", offerDoc("dup", 2))
	if resp1.StatusCode != 200 || resp2.StatusCode != 200 {
		t.Fatalf("status %d %s / %d %s", resp1.StatusCode, b1, resp2.StatusCode, b2)
	}
	var r1, r2 api.ApplyResult
	_ = json.Unmarshal(b1, &r1)
	_ = json.Unmarshal(b2, &r2)
	if !r2.Duplicate || r2.Index != r1.Index {
		t.Fatalf("retry with the same request id: first %+v, second %+v", r1, r2)
	}
	o, err := c.Client(0).Get(ctx(t), "offers", "dup", false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(o.Doc), `"value":1`) || o.Index != r1.Index {
		t.Fatalf("the retry was applied: %s index %d", o.Doc, o.Index)
	}
	audit, _ := c.Client(0).Audit(ctx(t), 1000)
	n := 0
	for _, a := range audit {
		if a.Target == "Offer/dup" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d audit entries for one logical write", n)
	}
}

// Restarting a node must not re-apply what its badger state already holds:
// the audit log (one entry per applied change) would double.
func TestPitfall_RestartDoesNotReapplyEntries(t *testing.T) {
	c := cptest.New(t, 3)
	var last uint64
	for i := 0; i < 10; i++ {
		r, err := c.Client(0).Apply(ctx(t), offerDoc(fmt.Sprintf("r%d", i), i), "application/json")
		if err != nil {
			t.Fatal(err)
		}
		last = r.Index
	}
	c.WaitApplied(last)
	f := c.Follower()
	before := c.Store(f).FSM().Applied()
	auditBefore, _ := c.Store(f).FSM().Audit(0)
	c.Nodes[f].Kill()
	c.Restart(c.Nodes[f])
	if got := c.Store(f).FSM().Applied(); got < before {
		t.Fatalf("applied index went back from %d to %d on restart", before, got)
	}
	c.WaitApplied(last)
	time.Sleep(200 * time.Millisecond) // let raft replay whatever it will
	auditAfter, _ := c.Store(f).FSM().Audit(0)
	if len(auditAfter) != len(auditBefore) {
		t.Fatalf("audit entries %d before restart, %d after: entries were re-applied", len(auditBefore), len(auditAfter))
	}
}

// A follower that misses more than the leader keeps in its log is brought
// back by an InstallSnapshot and converges.
func TestPitfall_FarBehindFollowerCatchesUpBySnapshot(t *testing.T) {
	c := cptest.New(t, 3, func(cfg *controlplane.Config) {
		cfg.Raft.TrailingLogs = 10
		cfg.Raft.SnapshotThreshold = 20
		cfg.Raft.SnapshotInterval = 100 * time.Millisecond
	})
	l := c.Leader()
	f := c.Follower()
	_, stoppedAt, _, _ := c.Store(f).Indexes()
	c.Nodes[f].Stop()
	var last uint64
	for i := 0; i < 100; i++ {
		r, err := c.Client(l).Apply(ctx(t), offerDoc(fmt.Sprintf("s%d", i), i), "application/json")
		if err != nil {
			t.Fatal(err)
		}
		last = r.Index
	}
	if err := c.Store(l).Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	// The leader no longer holds the entries the follower misses, so only
	// an InstallSnapshot can bring it back.
	if first, err := c.Store(l).FirstIndex(); err != nil || first <= stoppedAt+1 {
		t.Fatalf("leader log still starts at %d (follower stopped at %d): %v", first, stoppedAt, err)
	}
	c.Restart(c.Nodes[f])
	c.WaitApplied(last)
	objs, err := c.Client(f).List(ctx(t), "offers", true)
	if err != nil || len(objs) != 100 {
		t.Fatalf("far-behind follower holds %d offers (%v), want 100", len(objs), err)
	}
}

func TestAdminAPI_BadInputGetsStableCodes(t *testing.T) {
	c := cptest.New(t, 1)
	url := c.Nodes[0].URL()
	cases := []struct {
		name   string
		path   string
		body   []byte
		status int
		code   api.Code
	}{
		{"malformed JSON", "/v1/catalog", []byte(`{"kind":"Offer",`), 400, api.CodeInvalidJSON},
		{"unknown field", "/v1/catalog", []byte(`{"kind":"Offer","id":"x","category":"care","value":1,"cost":0,"colour":"red"}`), 400, api.CodeUnknownField},
		{"wrong type", "/v1/catalog", []byte(`{"kind":"Offer","id":"x","category":"care","value":"lots","cost":0}`), 400, api.CodeInvalidField},
		{"invalid rule", "/v1/catalog", []byte(`{"kind":"Offer","id":"x","category":"care","value":1,"cost":0,"eligibility":"profile.a >="}`), 400, api.CodeInvalidRule},
		{"too large", "/v1/catalog", bytes.Repeat([]byte(" "), 3<<20), 413, api.CodeBodyTooLarge},
		{"token request unknown field", "/v1/tokens", []byte(`{"role":"viewer","admin":true}`), 400, api.CodeUnknownField},
		{"bad role", "/v1/tokens", []byte(`{"role":"root"}`), 400, api.CodeInvalidField},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := post(t, url+tc.path, c.Token, "", tc.body)
			var eb api.ErrorBody
			if err := json.Unmarshal(b, &eb); err != nil || eb.Error == nil {
				t.Fatalf("error body %q is not {\"error\":{...}}", b)
			}
			if resp.StatusCode != tc.status || eb.Error.Code != tc.code || eb.Error.Message == "" {
				t.Fatalf("got %d %s %q; want %d %s", resp.StatusCode, eb.Error.Code, eb.Error.Message, tc.status, tc.code)
			}
		})
	}
	objs, err := c.Client(0).List(ctx(t), "offers", false)
	if err != nil || len(objs) != 0 {
		t.Fatalf("rejected writes stored something: %v %v", objs, err)
	}
}
