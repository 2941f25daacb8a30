package fsm_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/fsm"
)

func initWithCA() command {
	c := initCluster("tp-test")
	p := c.payload.(fsm.InitCluster)
	p.CA = &fsm.ClusterCA{CertPEM: "-----BEGIN CERTIFICATE-----", KeyPEM: "-----BEGIN PRIVATE KEY-----"}
	c.payload = p
	return c
}

// Entry idx is stamped baseTime + idx seconds (see encode).
func joinToken(id string, uses int, expiresAfterIdx uint64) command {
	return command{typ: fsm.CmdJoinToken, payload: fsm.JoinTokenCreate{TokenID: id, SecretHash: fmt.Sprintf("%064x", 7),
		Expires: baseTime.Add(time.Duration(expiresAfterIdx) * time.Second).UnixNano(), Uses: uses}}
}

func enroll(token, agent string) command {
	return command{typ: fsm.CmdAgentEnroll, payload: fsm.AgentEnroll{TokenID: token, SecretHash: fmt.Sprintf("%064x", 7),
		AgentID: agent, Site: "sh-01", Channel: "kiosk", CertSerial: "01"}}
}

func TestFleet_OneUseTokenAdmitsOneAgent(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, initWithCA())
	if ca, ok, _ := f.CA(); !ok || ca.CertPEM == "" {
		t.Fatal("the CA from the init command was not stored")
	}
	applyOK(t, f, 2, joinToken("t1", 1, 100))
	applyOK(t, f, 3, enroll("t1", "kiosk-1"))
	if r := apply(t, f, 4, enroll("t1", "kiosk-2")); r.Err == nil || r.Err.Code != fsm.CodeTokenInvalid {
		t.Fatalf("second use of a one-use token: %+v", r.Err)
	}
	a, ok, _ := f.Agent("kiosk-1")
	if !ok || a.Site != "sh-01" || a.Revoked {
		t.Fatalf("agent %+v %v", a, ok)
	}
	if _, ok, _ := f.Agent("kiosk-2"); ok {
		t.Fatal("the refused agent was registered")
	}
}

func TestFleet_TokenRefusals(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, initWithCA())
	applyOK(t, f, 2, joinToken("short", 5, 4)) // expires at entry 4's time
	applyOK(t, f, 3, joinToken("many", 5, 1000))
	wrongSecret := enroll("many", "k1")
	p := wrongSecret.payload.(fsm.AgentEnroll)
	p.SecretHash = fmt.Sprintf("%064x", 8)
	wrongSecret.payload = p
	// In index order: an entry at or below the applied index is skipped.
	for i, tc := range []struct {
		name string
		c    command
	}{
		{"expired", enroll("short", "k1")},
		{"unknown token", enroll("nope", "k1")},
		{"wrong secret", wrongSecret},
	} {
		idx := uint64(5 + i)
		if r := apply(t, f, idx, tc.c); r.Err == nil || r.Err.Code != fsm.CodeTokenInvalid {
			t.Errorf("%s: %+v", tc.name, r.Err)
		}
	}
	if r := apply(t, f, 8, joinToken("late", 1, 1)); r.Err == nil {
		t.Error("a token expiring before its creation was accepted")
	}
}

func TestFleet_RevokedAgentCannotReenroll(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, initWithCA())
	applyOK(t, f, 2, joinToken("t", 3, 100))
	applyOK(t, f, 3, enroll("t", "ivr-1"))
	applyOK(t, f, 4, command{typ: fsm.CmdAgentRevoke, payload: fsm.AgentRevoke{AgentID: "ivr-1"}})
	a, _, _ := f.Agent("ivr-1")
	if !a.Revoked || a.RevokedAt.IsZero() {
		t.Fatalf("revoke not recorded: %+v", a)
	}
	if r := apply(t, f, 5, enroll("t", "ivr-1")); r.Err == nil || r.Err.Code != fsm.CodeRevoked {
		t.Fatalf("re-enroll after revoke: %+v", r.Err)
	}
	if r := apply(t, f, 6, command{typ: fsm.CmdAgentRevoke, payload: fsm.AgentRevoke{AgentID: "ghost"}}); r.Err == nil {
		t.Fatal("revoking an unknown agent succeeded")
	}
	agents, _ := f.Agents()
	if len(agents) != 1 {
		t.Fatalf("registry %+v", agents)
	}
}

func enrollWithKey(token, agent, key, serial string) command {
	c := enroll(token, agent)
	p := c.payload.(fsm.AgentEnroll)
	p.KeyFingerprint, p.CertSerial = key, serial
	c.payload = p
	return c
}

// A second process enrolling under a live agent's id would cut that agent
// off and restart its event sequence: refused with conflict, the token
// unspent and the registry unchanged. The same key again (a retry whose
// answer was lost) is admitted; a command without a fingerprint, written
// before the rule, replays as it was applied.
func TestFleet_LiveIDCannotBeTakenByAnotherKey(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, initWithCA())
	applyOK(t, f, 2, joinToken("t", 2, 100))
	applyOK(t, f, 3, enrollWithKey("t", "kiosk-1", "aa", "01"))
	r := apply(t, f, 4, enrollWithKey("t", "kiosk-1", "bb", "02"))
	if r.Err == nil || r.Err.Code != "conflict" || !strings.Contains(r.Err.Message, "fleet revoke kiosk-1") {
		t.Fatalf("another key under a live id: %+v", r.Err)
	}
	if a, _, _ := f.Agent("kiosk-1"); a.CertSerial != "01" || a.KeyFingerprint != "aa" {
		t.Fatalf("the refused enrollment changed the registry: %+v", a)
	}
	applyOK(t, f, 5, enrollWithKey("t", "kiosk-2", "cc", "03")) // the refusal spent no use
	if r := apply(t, f, 6, enrollWithKey("t", "kiosk-3", "dd", "04")); r.Err == nil || r.Err.Code != fsm.CodeTokenInvalid {
		t.Fatalf("a third use of a two-use token: %+v", r.Err)
	}
	applyOK(t, f, 7, joinToken("u", 3, 100))
	applyOK(t, f, 8, enrollWithKey("u", "kiosk-1", "aa", "05"))
	if a, _, _ := f.Agent("kiosk-1"); a.CertSerial != "05" {
		t.Fatalf("the same key re-enrolling: %+v", a)
	}
	applyOK(t, f, 9, enroll("u", "kiosk-1")) // no fingerprint: as applied before the rule
	if a, _, _ := f.Agent("kiosk-1"); a.KeyFingerprint != "" {
		t.Fatalf("a legacy enrollment: %+v", a)
	}
}

func TestFleet_NoTokensWithoutCA(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, initCluster("tp-old"))
	if r := apply(t, f, 2, joinToken("t", 1, 100)); r.Err == nil {
		t.Fatal("a join token was minted without a cluster CA")
	}
}

// Revoking a revoked agent changes nothing and says so: the answer names
// the first revocation's time, the registry keeps it, and the audit log
// has one fleet.revoke.
func TestFleet_SecondRevokeSaysAlreadyRevokedAndChangesNothing(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, initWithCA())
	applyOK(t, f, 2, joinToken("t", 1, 100))
	applyOK(t, f, 3, enroll("t", "ivr-1"))
	revoke := command{typ: fsm.CmdAgentRevoke, payload: fsm.AgentRevoke{AgentID: "ivr-1"}}
	var first, second fsm.AgentRevokeResult
	decodeData(t, applyOK(t, f, 4, revoke), &first)
	if first.AlreadyRevoked || first.Index != 4 || !first.RevokedAt.Equal(baseTime.Add(4*time.Second)) {
		t.Fatalf("first revoke answered %+v", first)
	}
	decodeData(t, applyOK(t, f, 5, revoke), &second)
	if !second.AlreadyRevoked || !second.RevokedAt.Equal(first.RevokedAt) {
		t.Fatalf("second revoke answered %+v, want alreadyRevoked at %s", second, first.RevokedAt)
	}
	if a, _, _ := f.Agent("ivr-1"); !a.RevokedAt.Equal(first.RevokedAt) {
		t.Fatalf("the second revoke moved revokedAt to %s", a.RevokedAt)
	}
	audit, err := f.Audit(0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range audit {
		if a.Action == "fleet.revoke" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d fleet.revoke audit records, want 1: %+v", n, audit)
	}
}

func decodeData(t *testing.T, r *fsm.Result, out any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, out); err != nil {
		t.Fatalf("result data %s: %v", r.Data, err)
	}
}
