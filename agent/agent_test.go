package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/agent"
	"touchpoint.dev/touchpoint/agent/agenttest"
	"touchpoint.dev/touchpoint/agent/gossip"
	"touchpoint.dev/touchpoint/agent/link"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

var fastLink = link.Timing{
	KeepAlivePeriod: 200 * time.Millisecond,
	MaxIdleTimeout:  3 * time.Second,
	DialTimeout:     time.Second,
	BackoffMin:      5 * time.Millisecond,
	BackoffMax:      50 * time.Millisecond,
	RefusedBackoff:  300 * time.Millisecond,
	StatusEvery:     50 * time.Millisecond,
	EventsPoll:      50 * time.Millisecond,
}

var fastGossip = agent.GossipTiming{
	MetaEvery: 50 * time.Millisecond, RejoinEvery: 200 * time.Millisecond,
	ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 50 * time.Millisecond,
	GossipInterval: 50 * time.Millisecond, SuspicionMult: 2,
}

func logger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

func config(t *testing.T, dir string, cp []string, token string) agent.Config {
	return agent.Config{
		ID: "kiosk-7", DataDir: dir, Site: "store-042", Channel: "kiosk",
		HTTPAddr: "127.0.0.1:0", ControlPlane: cp, JoinToken: token,
		Version: "test", Logger: logger(t), LinkTiming: fastLink, GossipTiming: fastGossip,
	}
}

// start runs an agent until the test ends (or stop is called).
func start(t *testing.T, cfg agent.Config) *agent.Agent {
	t.Helper()
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatalf("new agent: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	t.Cleanup(func() {
		_ = a.Close()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return a
}

type response struct {
	status int
	body   []byte
}

func (r response) errorCode(t *testing.T) (api.Code, string) {
	t.Helper()
	var eb api.ErrorBody
	if err := json.Unmarshal(r.body, &eb); err != nil || eb.Error == nil {
		t.Fatalf("not an error body (%d): %s", r.status, r.body)
	}
	return eb.Error.Code, eb.Error.Field
}

func do(t *testing.T, method, url string, body []byte, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, b}
}

const contact = `{"customerId":"13800138000","type":"offer","outcome":"accepted","offerId":"ret-10","campaignId":"winback","decisionId":"d-1","value":30}`

func TestAgent_PostContact(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	dir := t.TempDir()
	a := start(t, config(t, dir, []string{fake.Addr()}, fake.JoinToken(time.Hour, 1)))

	res := do(t, "POST", a.URL()+"/v1/contacts", []byte(contact))
	if res.status != http.StatusAccepted {
		t.Fatalf("post: %d %s", res.status, res.body)
	}
	var acc agent.ContactAccepted
	if err := json.Unmarshal(res.body, &acc); err != nil || acc.EventID != "kiosk-7:1" || acc.Seq != 1 {
		t.Fatalf("answer: %s", res.body)
	}
	agenttest.WaitFor(t, 10*time.Second, "the event at the control plane", func() bool { return len(fake.Events("kiosk-7")) == 1 })
	ev := fake.Events("kiosk-7")[0]
	want := protocol.ContactEvent{AgentID: "kiosk-7", Seq: 1, Time: ev.Time, CustomerID: "13800138000", Channel: "kiosk", Site: "store-042",
		Type: "offer", Outcome: "accepted", DecisionID: "d-1", CampaignID: "winback", OfferID: "ret-10", Value: 30}
	if ev != want || ev.Time.IsZero() {
		t.Fatalf("event at the control plane:\n%+v\nwant\n%+v", ev, want)
	}

	bad := []struct {
		name   string
		body   []byte
		status int
		code   api.Code
	}{
		{"malformed", []byte(`{"customerId":`), 400, api.CodeInvalidJSON},
		{"unknown field", []byte(`{"customerId":"c","type":"offer","outcome":"presented","name":"x"}`), 400, api.CodeUnknownField},
		{"missing customer", []byte(`{"type":"offer","outcome":"presented"}`), 400, api.CodeMissingField},
		{"bad outcome", []byte(`{"customerId":"c","type":"offer","outcome":"yes"}`), 400, api.CodeInvalidField},
		{"too large", []byte(`{"customerId":"` + strings.Repeat("x", 70<<10) + `"}`), 413, api.CodeBodyTooLarge},
	}
	for _, tc := range bad {
		res := do(t, "POST", a.URL()+"/v1/contacts", tc.body)
		if code, _ := res.errorCode(t); res.status != tc.status || code != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, res.status, code, tc.status, tc.code)
		}
	}
	if st := a.Status(); st.Outbox.NextSeq != 2 {
		t.Fatalf("refused requests took sequences: next %d", st.Outbox.NextSeq)
	}
	// Unknown customers and offers are logged all the same.
	if res := do(t, "POST", a.URL()+"/v1/contacts", []byte(`{"customerId":"nobody","type":"inquiry","outcome":"ignored","offerId":"no-such-offer"}`)); res.status != 202 {
		t.Fatalf("unknown customer: %d %s", res.status, res.body)
	}
	// A decision refused is not a contact refused.
	if res := do(t, "POST", a.URL()+"/v1/decisions", []byte(`{"customerId":"a b","channel":"kiosk"}`)); res.status != 400 {
		t.Fatalf("a decision for a bad id: %d %s", res.status, res.body)
	}
	metrics := string(do(t, "GET", a.URL()+"/metrics", nil).body)
	if strings.Contains(metrics, `touchpoint_agent_contacts_rejected_total{code="invalid_field"} 2`) {
		t.Error("a refused decision counted as a refused contact")
	}
	for _, want := range []string{
		`touchpoint_agent_requests_refused_total{code="invalid_field",route="POST /v1/decisions"} 1`,
		`touchpoint_agent_events_appended_total 2`,
		`touchpoint_agent_contacts_rejected_total{code="invalid_json"} 1`,
		`touchpoint_agent_contacts_rejected_total{code="body_too_large"} 1`,
		`touchpoint_agent_requests_refused_total{code="invalid_json",route="POST /v1/contacts"} 1`,
		`touchpoint_agent_session_state{state="connected"} 1`,
		`touchpoint_agent_outbox_depth`, `touchpoint_agent_config_index`, `touchpoint_agent_events_acknowledged_total`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestAgent_OutboxFullIs503AndNothingIsLost(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	fake.HoldAcks(true) // the cluster commits but never acknowledges
	dir := t.TempDir()
	cfg := config(t, dir, []string{fake.Addr()}, fake.JoinToken(time.Hour, 1))
	cfg.OutboxMaxBytes = 1000
	a := start(t, cfg)
	accepted := 0
	var res response
	for i := 0; i < 50; i++ {
		if res = do(t, "POST", a.URL()+"/v1/contacts", []byte(contact)); res.status != 202 {
			break
		}
		accepted++
	}
	if code, _ := res.errorCode(t); res.status != 503 || code != api.CodeOutboxFull || accepted == 0 {
		t.Fatalf("after %d accepted: %d %s", accepted, res.status, res.body)
	}
	if h := do(t, "GET", a.URL()+"/healthz", nil); h.status != 200 || !strings.Contains(string(h.body), `"outboxFull":true`) {
		t.Fatalf("healthz: %d %s", h.status, h.body)
	}
	agenttest.WaitFor(t, 10*time.Second, "a full outbox reported", func() bool {
		ss := fake.Statuses("kiosk-7")
		return len(ss) > 0 && ss[len(ss)-1].OutboxFull
	})
	// Acknowledgements free the space; everything accepted arrived once.
	fake.HoldAcks(false)
	fake.DropConnections()
	agenttest.WaitFor(t, 10*time.Second, "the outbox drained", func() bool { return a.Status().Outbox.Backlog == 0 })
	if res := do(t, "POST", a.URL()+"/v1/contacts", []byte(contact)); res.status != 202 {
		t.Fatalf("after the drain: %d %s", res.status, res.body)
	}
	agenttest.WaitFor(t, 10*time.Second, "every event at the control plane", func() bool { return len(fake.Events("kiosk-7")) == accepted+1 })
}

func TestAgent_ServesItsCacheWithoutTheControlPlane(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	fake.Put("Offer", "ret-10", map[string]any{"category": "retention", "value": 10})
	fake.Put("Plan", "p-58", map[string]any{"monthlyFee": 58})
	dir := t.TempDir()
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config(t, dir, []string{fake.Addr()}, fake.JoinToken(time.Hour, 1))
	cfg.EncryptionKeyFile = key
	// Not ready while it has never held a configuration.
	dead := start(t, config(t, t.TempDir(), []string{"127.0.0.1:9"}, fake.JoinToken(time.Hour, 1)))
	if res := do(t, "GET", dead.URL()+"/readyz", nil); res.status != 503 || !strings.Contains(string(res.body), "not_ready") {
		t.Fatalf("readyz before any configuration: %d %s", res.status, res.body)
	}
	if res := do(t, "GET", dead.URL()+"/healthz", nil); res.status != 200 {
		t.Fatalf("healthz while enrolling: %d %s", res.status, res.body)
	}
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	agenttest.WaitFor(t, 10*time.Second, "ready", func() bool { return do(t, "GET", a.URL()+"/readyz", nil).status == 200 })
	a.Kill()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_ = fake.Close() // the control plane is gone

	cfg = config(t, dir, []string{fake.Addr()}, "")
	cfg.EncryptionKeyFile = key
	began := time.Now()
	a = start(t, cfg)
	if res := do(t, "GET", a.URL()+"/readyz", nil); res.status != 200 || time.Since(began) > time.Second {
		t.Fatalf("readyz after restart: %d after %v: %s", res.status, time.Since(began), res.body)
	}
	res := do(t, "GET", a.URL()+"/v1/catalog/offers", nil)
	var objs []api.Object
	if err := json.Unmarshal(res.body, &objs); err != nil || res.status != 200 || len(objs) != 1 || objs[0].ID != "ret-10" {
		t.Fatalf("offers: %d %s", res.status, res.body)
	}
	if res := do(t, "GET", a.URL()+"/v1/catalog/plans/p-58", nil); res.status != 200 || !strings.Contains(string(res.body), `"monthlyFee":58`) {
		t.Fatalf("plan: %d %s", res.status, res.body)
	}
	if res := do(t, "GET", a.URL()+"/v1/catalog/plans/nope", nil); res.status != 404 {
		t.Fatalf("missing plan: %d %s", res.status, res.body)
	}
	if res := do(t, "GET", a.URL()+"/v1/catalog/widgets", nil); res.status != 400 {
		t.Fatalf("unknown kind: %d %s", res.status, res.body)
	}
	// Contacts are still logged.
	if res := do(t, "POST", a.URL()+"/v1/contacts", []byte(contact)); res.status != 202 {
		t.Fatalf("offline contact: %d %s", res.status, res.body)
	}
	var h agent.Health
	res = do(t, "GET", a.URL()+"/healthz", nil)
	if err := json.Unmarshal(res.body, &h); err != nil || res.status != 200 || h.Session == link.StateConnected || h.ConfigIndex != 2 || h.OutboxDepth != 1 {
		t.Fatalf("healthz offline: %d %s", res.status, res.body)
	}
}

func TestAgent_APIKey(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	cfg := config(t, t.TempDir(), []string{fake.Addr()}, fake.JoinToken(time.Hour, 1))
	cfg.APIKey = "s3cret"
	a := start(t, cfg)
	if res := do(t, "POST", a.URL()+"/v1/contacts", []byte(contact)); res.status != 401 {
		t.Fatalf("no key: %d", res.status)
	}
	if res := do(t, "GET", a.URL()+"/v1/status", nil, "X-API-Key", "wrong"); res.status != 401 {
		t.Fatalf("wrong key: %d", res.status)
	}
	if res := do(t, "POST", a.URL()+"/v1/contacts", []byte(contact), "Authorization", "Bearer s3cret"); res.status != 202 {
		t.Fatalf("bearer: %d %s", res.status, res.body)
	}
	if res := do(t, "GET", a.URL()+"/v1/status", nil, "X-API-Key", "s3cret"); res.status != 200 {
		t.Fatalf("x-api-key: %d %s", res.status, res.body)
	}
	for _, p := range []string{"/healthz", "/metrics"} {
		if res := do(t, "GET", a.URL()+p, nil); res.status != 200 {
			t.Fatalf("%s without a key: %d", p, res.status)
		}
	}
}

// TestAgent_WrongMethodAndEncodedBody: the agent's routes answer a wrong
// method 405 with Allow, an encoded body 415, and an unknown path 404 —
// not 404 for all three, which sends an integrator looking for a typo in
// the path.
func TestAgent_WrongMethodAndEncodedBody(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	a := start(t, config(t, t.TempDir(), []string{fake.Addr()}, fake.JoinToken(time.Hour, 1)))
	for _, tc := range []struct {
		method, path string
		header       []string
		status       int
		code         api.Code
	}{
		{"GET", "/v1/decisions", nil, 405, api.CodeMethodNotAllowed},
		{"PUT", "/v1/contacts", nil, 405, api.CodeMethodNotAllowed},
		{"POST", "/v1/contacts", []string{"Content-Encoding", "gzip"}, 415, api.CodeUnsupportedMediaType},
		{"GET", "/v1/nothing", nil, 404, api.CodeNotFound},
	} {
		res := do(t, tc.method, a.URL()+tc.path, []byte(contact), tc.header...)
		if code, _ := res.errorCode(t); res.status != tc.status || code != tc.code {
			t.Errorf("%s %s %v: %d %s, want %d %s", tc.method, tc.path, tc.header, res.status, code, tc.status, tc.code)
		}
	}
}

func TestAgent_RefusesBadConfig(t *testing.T) {
	base := func() agent.Config {
		return agent.Config{ID: "a1", DataDir: t.TempDir(), Site: "s", Channel: "kiosk", HTTPAddr: "127.0.0.1:0",
			ControlPlane: []string{"127.0.0.1:1"}, JoinToken: ""}
	}
	tests := []struct {
		name string
		mut  func(*agent.Config)
		want string
	}{
		{"channel", func(c *agent.Config) { c.Channel = "web" }, "channel"},
		{"id", func(c *agent.Config) { c.ID = "a b" }, "agent id"},
		{"site", func(c *agent.Config) { c.Site = "" }, "site"},
		{"not enrolled", func(*agent.Config) {}, "not enrolled"},
		{"key file", func(c *agent.Config) {
			p := filepath.Join(t.TempDir(), "k")
			_ = os.WriteFile(p, []byte("short"), 0o600)
			c.EncryptionKeyFile = p
		}, "encryption key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.mut(&c)
			if _, err := agent.New(c); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// The agent joins the gossip pool with the keys it received at enrollment,
// through the gossip address the servers announce, and gossips its state.
func TestAgent_GossipsWithTheEnrolledKeyring(t *testing.T) {
	key := bytes.Repeat([]byte{42}, 32)
	var server *gossip.Gossip
	var err error
	server, err = gossip.New(gossip.Config{
		Name: protocol.GossipName(protocol.GossipRoleServer, "fake-node"), BindAddr: "127.0.0.1:0", Keys: [][]byte{key},
		Meta: func() []byte {
			b, _ := protocol.GossipMeta{Role: protocol.GossipRoleServer, ID: "fake-node"}.Encode()
			return b
		},
		ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 50 * time.Millisecond, GossipInterval: 50 * time.Millisecond, SuspicionMult: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Shutdown()
	fake := agenttest.Start(t, agenttest.Config{GossipKeys: [][]byte{key}, GossipAddr: server.Addr()})
	a := start(t, config(t, t.TempDir(), []string{fake.Addr()}, fake.JoinToken(time.Hour, 1)))
	fake.Put("Offer", "o1", map[string]any{"value": 1})
	agenttest.WaitFor(t, 20*time.Second, "the agent in the server's view with its configuration index", func() bool {
		for _, m := range server.Members() {
			if m.Name == "agent/kiosk-7" && m.State == gossip.StateAlive {
				meta, err := protocol.DecodeGossipMeta(m.Meta)
				return err == nil && meta.ConfigIndex == 1 && meta.Site == "store-042" && meta.Channel == "kiosk"
			}
		}
		return false
	})
	if host, _, _ := net.SplitHostPort(a.GossipAddr()); host != "127.0.0.1" {
		t.Fatalf("gossip bound to %q: should default to the HTTP host", a.GossipAddr())
	}
}

// Seeds given with GossipJoin are joined too, and the agent's heartbeat
// moves in its metadata.
func TestAgent_JoinsGossipSeedsAndHeartbeats(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	peer, err := gossip.New(gossip.Config{
		Name: protocol.GossipName(protocol.GossipRoleAgent, "peer"), BindAddr: "127.0.0.1:0", Keys: [][]byte{key},
		Meta: func() []byte {
			b, _ := protocol.GossipMeta{Role: protocol.GossipRoleAgent, ID: "peer"}.Encode()
			return b
		},
		ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 50 * time.Millisecond, GossipInterval: 50 * time.Millisecond, SuspicionMult: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Shutdown()
	fake := agenttest.Start(t, agenttest.Config{GossipKeys: [][]byte{key}}) // announces no gossip address
	cfg := config(t, t.TempDir(), []string{fake.Addr()}, fake.JoinToken(time.Hour, 1))
	cfg.GossipJoin = []string{peer.Addr()}
	start(t, cfg)
	beat := func() uint64 {
		for _, m := range peer.Members() {
			if m.Name == "agent/kiosk-7" && m.State == gossip.StateAlive {
				meta, _ := protocol.DecodeGossipMeta(m.Meta)
				return meta.Beat
			}
		}
		return 0
	}
	agenttest.WaitFor(t, 20*time.Second, "the agent in the seed's view", func() bool { return beat() > 0 })
	first := beat()
	agenttest.WaitFor(t, 5*time.Second, "a later heartbeat", func() bool { return beat() > first })
}

// An agent whose enrollment is refused for good stops with the code.
func TestAgent_RunFailsWhenEnrollmentIsRefused(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	a, err := agent.New(config(t, t.TempDir(), []string{fake.Addr()}, fake.JoinToken(-time.Minute, 1)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = a.Run(ctx)
	if api.CodeOf(err) != agenttest.CodeTokenInvalid || ctx.Err() != nil {
		t.Fatalf("run: %v", err)
	}
	_ = a.Close()
}

// TestAgent_ContactRetriedWithItsIdempotencyKeyIsLoggedOnce: a kiosk
// that did not get the answer to a contact sends it again with the same
// Idempotency-Key: the agent answers as before (Idempotent-Replayed: true)
// and the ledger gets one event, also when the retry comes after a
// restart. The key with another contact is refused, and nothing logged.
func TestAgent_ContactRetriedWithItsIdempotencyKeyIsLoggedOnce(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	dir := t.TempDir()
	cfg := config(t, dir, []string{fake.Addr()}, fake.JoinToken(time.Hour, 1))
	a := start(t, cfg)
	post := func(url, body, key string) (int, agent.ContactAccepted, http.Header, []byte) {
		t.Helper()
		req, _ := http.NewRequest("POST", url+"/v1/contacts", strings.NewReader(body))
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var acc agent.ContactAccepted
		_ = json.Unmarshal(b, &acc)
		return res.StatusCode, acc, res.Header, b
	}
	code, first, h, b := post(a.URL(), contact, "kiosk-7-txn-0001")
	if code != 202 || first.Seq != 1 || h.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %s %v", code, b, h)
	}
	// The same contact written another way (fields in another order) is
	// the same contact.
	var m map[string]any
	_ = json.Unmarshal([]byte(contact), &m)
	reordered, _ := json.MarshalIndent(m, "", " ")
	code, again, h, b := post(a.URL(), string(reordered), "kiosk-7-txn-0001")
	if code != 202 || again != first || h.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %s %v, want the first answer replayed", code, b, h)
	}
	other := strings.Replace(contact, `"accepted"`, `"declined"`, 1)
	if code, _, _, b := post(a.URL(), other, "kiosk-7-txn-0001"); code != 409 || !strings.Contains(string(b), `"conflict"`) || !strings.Contains(string(b), "Idempotency-Key") {
		t.Fatalf("the key with another contact: %d %s", code, b)
	}
	for _, bad := range []string{strings.Repeat("k", 129), "密钥"} {
		if code, _, _, b := post(a.URL(), contact, bad); code != 400 || !strings.Contains(string(b), "Idempotency-Key") {
			t.Fatalf("key %q: %d %s", bad, code, b)
		}
	}
	// Sent empty (blank once Go trims it) or twice, the key protects
	// nothing: refused, not ignored.
	for _, hdr := range [][]string{{""}, {"   "}, {"k-1", "k-2"}} {
		req, _ := http.NewRequest("POST", a.URL()+"/v1/contacts", strings.NewReader(contact))
		for _, v := range hdr {
			req.Header.Add("Idempotency-Key", v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 || !strings.Contains(string(b), "Idempotency-Key") {
			t.Fatalf("Idempotency-Key %q: %d %s", hdr, res.StatusCode, b)
		}
	}
	if code, next, _, b := post(a.URL(), contact, ""); code != 202 || next.Seq != 2 {
		t.Fatalf("without a key: %d %s", code, b)
	}
	// Enrolled (the join token is spent) before the restart.
	agenttest.WaitFor(t, 10*time.Second, "the link", func() bool { return a.LinkStatus().Connected })
	a.Close()

	// After a restart the key is still known.
	b2 := start(t, cfg)
	code, again, h, b = post(b2.URL(), contact, "kiosk-7-txn-0001")
	if code != 202 || again != first || h.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry after a restart: %d %s %v", code, b, h)
	}
	agenttest.WaitFor(t, 10*time.Second, "the events at the control plane", func() bool { return len(fake.Events("kiosk-7")) == 2 })
	time.Sleep(200 * time.Millisecond)
	if evs := fake.Events("kiosk-7"); len(evs) != 2 || evs[0].Seq != 1 || evs[1].Seq != 2 {
		t.Fatalf("the control plane got %+v, want seqs 1 and 2 only", evs)
	}
}

// An agent whose outbox was lost or replaced (a wiped or restored disk)
// while it kept its identity numbers its events from 1 again, below what
// the cluster holds: they would be dropped as duplicates. The link
// renumbers them after the cluster's mark, so every contact answered 202
// reaches the ledger.
func TestAgent_ContactsAfterALostOutboxReachTheLedger(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	dir := t.TempDir()
	cfg := config(t, dir, []string{fake.Addr()}, fake.JoinToken(time.Hour, 1))
	a := start(t, cfg)
	for range 2 {
		if res := do(t, "POST", a.URL()+"/v1/contacts", []byte(contact)); res.status != http.StatusAccepted {
			t.Fatalf("post: %d %s", res.status, res.body)
		}
	}
	agenttest.WaitFor(t, 10*time.Second, "two events at the control plane", func() bool { return len(fake.Events("kiosk-7")) == 2 })
	_ = a.Close()
	if err := os.RemoveAll(filepath.Join(dir, "outbox")); err != nil {
		t.Fatal(err)
	}
	a = start(t, cfg)
	for _, outcome := range []string{"declined", "ignored"} {
		body := strings.Replace(contact, `"accepted"`, strconv.Quote(outcome), 1)
		if res := do(t, "POST", a.URL()+"/v1/contacts", []byte(body)); res.status != http.StatusAccepted {
			t.Fatalf("post after the loss: %d %s", res.status, res.body)
		}
	}
	agenttest.WaitFor(t, 10*time.Second, "the contacts logged after the loss at the control plane", func() bool {
		evs := fake.Events("kiosk-7")
		return len(evs) == 4 && evs[2].Outcome == "declined" && evs[3].Outcome == "ignored" && evs[2].Seq == 3 && evs[3].Seq == 4
	})
	agenttest.WaitFor(t, 10*time.Second, "the outbox to drain", func() bool { return a.Status().Outbox.Backlog == 0 })
}

// An agent that has not reached the control plane since it enrolled holds
// no catalogue and no customers: its decisions say so (503), rather than
// calling a known customer unknown (404).
func TestAgent_WithoutConfigurationDecisionsAreUnavailable(t *testing.T) {
	fake := agenttest.Start(t, agenttest.Config{})
	token := fake.JoinToken(time.Hour, 1)
	addr := fake.Addr()
	_ = fake.Close() // enrolling, it finds nobody
	a := start(t, config(t, t.TempDir(), []string{addr}, token))
	res := do(t, "POST", a.URL()+"/v1/decisions", []byte(`{"customerId":"C1","channel":"kiosk"}`))
	if code, _ := res.errorCode(t); res.status != http.StatusServiceUnavailable || code != api.CodeUnavailable || !strings.Contains(string(res.body), "no configuration") {
		t.Fatalf("decision without configuration: %d %s", res.status, res.body)
	}
}
