package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// request opens a stream, sends one request frame and returns the frames
// of the answer until the node closes the stream.
func (s *session) request(t *testing.T, ty wire.MsgType, msg any) []wire.Frame {
	t.Helper()
	st, err := s.conn.OpenStreamSync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := wire.WriteFrame(st, ty, msg); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	_ = st.SetReadDeadline(time.Now().Add(10 * time.Second))
	var out []wire.Frame
	for {
		f, err := wire.ReadFrame(st, 0)
		if err != nil {
			return out
		}
		out = append(out, f)
	}
}

func TestGateway_ProfilesPrefetchAndContactsReachAgents(t *testing.T) {
	c := cptest.New(t, 3)
	waitGateways(t, c)
	cl := c.Client(c.Leader())
	ctx := context.Background()
	var ps []protocol.Profile
	for i := range 7 {
		region := "sh"
		if i%2 == 1 {
			region = "bj"
		}
		ps = append(ps, protocol.Profile{ID: fmt.Sprintf("C%d", i), Region: region, Attributes: map[string]any{"tenureMonths": float64(i)}})
	}
	if _, err := cl.UpsertCustomers(ctx, ps); err != nil {
		t.Fatal(err)
	}
	tok := mintToken(t, cl, "1h", 2)
	a := newTestAgent(t, "kiosk-1")
	if code := a.enroll(c.Nodes[0].QUICAddr(), tok); code != "" {
		t.Fatal(code)
	}
	// The session is on a follower: its reads are the follower's.
	follower := (c.Leader() + 1) % 3
	s := a.open(t, c.Nodes[follower].QUICAddr())
	waitFor(t, "the follower to apply the customers", func() bool {
		_, err := c.Nodes[follower].Server.Store().FSM().Customer("C6")
		return err == nil
	})

	// One profile.
	fr := s.request(t, wire.MsgProfileGet, wire.ProfileGet{ID: "C2"})
	var got wire.Profile
	if len(fr) != 1 || fr[0].Type != wire.MsgProfile || fr[0].Decode(&got) != nil || got.Profile.ID != "C2" || got.Profile.Attributes["tenureMonths"] != 2.0 || got.Index == 0 {
		t.Fatalf("profile get: %v %+v", fr, got)
	}
	fr = s.request(t, wire.MsgProfileGet, wire.ProfileGet{ID: "nobody"})
	var e wire.Error
	if len(fr) != 1 || fr[0].Type != wire.MsgError || fr[0].Decode(&e) != nil || e.Code != api.CodeNotFound {
		t.Fatalf("unknown customer: %v %+v", fr, e)
	}

	// A region, in pages of two, with the count first.
	fr = s.request(t, wire.MsgPrefetch, wire.Prefetch{Region: "sh", Limit: 2, Count: true})
	var ids []string
	total := -1
	for i, f := range fr {
		var p wire.Profiles
		if f.Type != wire.MsgProfiles || f.Decode(&p) != nil {
			t.Fatalf("frame %d: %s", i, f.Type)
		}
		if i == 0 {
			total = p.Total
			continue
		}
		for _, x := range p.Profiles {
			ids = append(ids, x.Profile.ID)
		}
		if p.Done != (i == len(fr)-1) {
			t.Fatalf("page %d done=%v of %d", i, p.Done, len(fr))
		}
	}
	if total != 4 || fmt.Sprint(ids) != "[C0 C2 C4 C6]" {
		t.Fatalf("prefetch sh: total %d ids %v", total, ids)
	}

	// Contacts committed through another agent reach this session, and a
	// profile fetched afterwards carries them.
	b := newTestAgent(t, "ivr-1")
	if code := b.enroll(c.Nodes[0].QUICAddr(), tok); code != "" {
		t.Fatal(code)
	}
	sb := b.open(t, c.Nodes[c.Leader()].QUICAddr())
	st, _ := sb.events(t)
	ev := protocol.ContactEvent{AgentID: b.id, Seq: 1, Time: time.Now().UTC().Truncate(time.Millisecond), CustomerID: "C2", Channel: "ivr",
		Type: protocol.ContactOffer, Outcome: protocol.OutcomePresented, OfferID: "retain-10"}
	if mark, code := sendBatch(t, st, wire.Events{Events: []protocol.ContactEvent{ev}}); code != "" || mark != 1 {
		t.Fatalf("ingest: %d %s", mark, code)
	}
	for {
		f, err := s.next(10 * time.Second)
		if err != nil {
			t.Fatalf("waiting for contacts: %v", err)
		}
		if f.Type != wire.MsgContacts {
			continue
		}
		evs, err := wire.DecodeContacts(f.Payload)
		if err != nil || len(evs) != 1 || evs[0].AgentID != ev.AgentID || evs[0].Seq != 1 || evs[0].CustomerID != "C2" || !evs[0].Time.Equal(ev.Time) {
			t.Fatalf("contacts %+v %v", evs, err)
		}
		break
	}
	fr = s.request(t, wire.MsgProfileGet, wire.ProfileGet{ID: "C2"})
	got = wire.Profile{}
	if len(fr) != 1 || fr[0].Decode(&got) != nil || len(got.Contacts) != 1 || got.Contacts[0].OfferID != "retain-10" {
		t.Fatalf("profile with contacts: %+v", got)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
