package wire_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/wire"
)

func TestWire_FramesRoundTripInOrder(t *testing.T) {
	var buf bytes.Buffer
	hello := wire.Hello{ProtocolVersion: wire.ProtocolVersion, AgentID: "kiosk-1", Site: "sh-01", Channel: "kiosk", Version: "dev", Index: 42, AckedSeq: 7}
	events := wire.Events{Events: []protocol.ContactEvent{{AgentID: "kiosk-1", Seq: 8, Time: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		CustomerID: "C1", Channel: "kiosk", Type: protocol.ContactOffer, Outcome: protocol.OutcomePresented, OfferID: "retain-10"}}}
	for _, m := range []struct {
		t   wire.MsgType
		msg any
	}{{wire.MsgHello, hello}, {wire.MsgEvents, events}, {wire.MsgEventsAck, wire.EventsAck{HighestSeq: 8}}} {
		if err := wire.WriteFrame(&buf, m.t, m.msg); err != nil {
			t.Fatal(err)
		}
	}
	f, err := wire.ReadFrame(&buf, 0)
	if err != nil || f.Type != wire.MsgHello {
		t.Fatalf("first frame %v %v", f.Type, err)
	}
	var h wire.Hello
	if err := f.Decode(&h); err != nil || h != hello {
		t.Fatalf("hello %+v %v", h, err)
	}
	f, _ = wire.ReadFrame(&buf, 0)
	var ev wire.Events
	if err := f.Decode(&ev); err != nil || len(ev.Events) != 1 || ev.Events[0].Seq != 8 || ev.Events[0].Validate() != nil {
		t.Fatalf("events %+v %v", ev, err)
	}
	f, _ = wire.ReadFrame(&buf, 0)
	var ack wire.EventsAck
	if err := f.Decode(&ack); err != nil || ack.HighestSeq != 8 {
		t.Fatalf("ack %+v %v", ack, err)
	}
	if _, err := wire.ReadFrame(&buf, 0); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last frame: %v, want EOF", err)
	}
}

func TestWire_RefusesOversizedAndTruncatedFrames(t *testing.T) {
	var buf bytes.Buffer
	_ = wire.WriteRaw(&buf, wire.MsgSnapshot, bytes.Repeat([]byte("x"), 100))
	if _, err := wire.ReadFrame(bytes.NewReader(buf.Bytes()), 99); !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Fatalf("over the reader's limit: %v", err)
	}
	if _, err := wire.ReadFrame(bytes.NewReader(buf.Bytes()[:50]), 0); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated payload: %v", err)
	}
	if _, err := wire.ReadFrame(bytes.NewReader([]byte{0, 0}), 0); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated header: %v", err)
	}
	// A header claiming 4 GiB is refused before anything is allocated.
	if _, err := wire.ReadFrame(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff, 0, 1}), 0); !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Fatalf("huge length: %v", err)
	}
}

func TestWire_KnownAndOptionalTypes(t *testing.T) {
	for ty := wire.MsgHello; ty <= wire.MsgContacts; ty++ {
		// Every JSON message has a type to decode into; EventsBinary and
		// Contacts are read with their own decoders.
		binary := ty == wire.MsgEventsBinary || ty == wire.MsgContacts
		if !wire.Known(ty) || (wire.NewMessage(ty) == nil) != binary {
			t.Errorf("%s not known", ty)
		}
		if strings.HasPrefix(ty.String(), "message(") {
			t.Errorf("%d has no name", ty)
		}
	}
	if wire.Known(0) || wire.Known(wire.MsgContacts+1) || wire.Known(wire.FirstOptionalType) || wire.NewMessage(wire.MsgContacts+1) != nil {
		t.Error("unknown types reported known")
	}
}

func TestWire_DecodeRefusesTrailingDataAndWrongTypes(t *testing.T) {
	for _, p := range []string{`{"highestSeq":1}{}`, `{"highestSeq":"one"}`, `[1]`, ``} {
		var ack wire.EventsAck
		if err := (wire.Frame{Type: wire.MsgEventsAck, Payload: []byte(p)}).Decode(&ack); err == nil {
			t.Errorf("payload %q accepted", p)
		}
	}
	// Fields from a newer peer are skipped.
	var e wire.Error
	if err := (wire.Frame{Type: wire.MsgError, Payload: []byte(`{"code":"forbidden","message":"revoked","retryAfter":5}`)}).Decode(&e); err != nil || e.Code != api.CodeForbidden {
		t.Fatalf("newer fields: %+v %v", e, err)
	}
}

func TestContactEvent_Validate(t *testing.T) {
	ok := protocol.ContactEvent{AgentID: "a", Seq: 1, CustomerID: "C1", Channel: "ivr", Type: "complaint", Outcome: "ignored"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*protocol.ContactEvent){
		"no agent":    func(e *protocol.ContactEvent) { e.AgentID = "" },
		"seq zero":    func(e *protocol.ContactEvent) { e.Seq = 0 },
		"no customer": func(e *protocol.ContactEvent) { e.CustomerID = "" },
		"no channel":  func(e *protocol.ContactEvent) { e.Channel = "" },
		"bad type":    func(e *protocol.ContactEvent) { e.Type = "visit" },
		"bad outcome": func(e *protocol.ContactEvent) { e.Outcome = "maybe" },
	} {
		e := ok
		mut(&e)
		if e.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzReadFrame: arbitrary bytes never panic the reader or the decoders,
// and a frame that reads re-writes to the same bytes.
func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	_ = wire.WriteFrame(&buf, wire.MsgHello, wire.Hello{ProtocolVersion: 1, AgentID: "k", Index: 3})
	f.Add(buf.Bytes())
	f.Add([]byte{0, 0, 0, 2, 0, 6, '{', '}'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := wire.ReadFrame(bytes.NewReader(b), 1<<20)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := wire.WriteRaw(&out, fr.Type, fr.Payload); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), b[:out.Len()]) {
			t.Fatalf("re-written frame differs")
		}
		for ty := wire.MsgHello; ty <= wire.MsgContacts; ty++ {
			if m := wire.NewMessage(ty); m != nil {
				_ = fr.Decode(m)
			}
		}
		if evs, err := wire.DecodeContacts(fr.Payload); err == nil {
			again, err := wire.EncodeContacts(evs)
			if err != nil {
				t.Fatal(err)
			}
			back, err := wire.DecodeContacts(again[6:])
			if err != nil || len(back) != len(evs) {
				t.Fatalf("contacts round trip: %v", err)
			}
		}
		if evs, err := wire.DecodeEventsBinary("k", fr.Payload); err == nil {
			var raw []byte
			for i := range evs {
				raw = protocol.AppendEventBinary(raw, &evs[i])
			}
			var again bytes.Buffer
			_ = wire.WriteEventsBinary(&again, len(evs), raw)
			back, err := wire.DecodeEventsBinary("k", again.Bytes()[6:])
			if err != nil || len(back) != len(evs) {
				t.Fatalf("events-binary round trip: %v", err)
			}
		}
	})
}

func TestWire_EventsBinaryRoundTrip(t *testing.T) {
	evs := []protocol.ContactEvent{
		{AgentID: "k", Seq: 1, Time: time.Date(2026, 12, 1, 10, 0, 0, 5, time.UTC), CustomerID: "C1", Channel: "kiosk",
			Type: protocol.ContactOffer, Outcome: protocol.OutcomePresented, OfferID: "retain-10", Value: 60},
		{AgentID: "k", Seq: 2, Time: time.Date(2026, 12, 1, 10, 0, 1, 0, time.UTC), CustomerID: "客户2", Channel: "ivr",
			Type: protocol.ContactService, Outcome: protocol.OutcomeIgnored},
	}
	var raw []byte
	for i := range evs {
		raw = protocol.AppendEventBinary(raw, &evs[i])
	}
	var buf bytes.Buffer
	if err := wire.WriteEventsBinary(&buf, len(evs), raw); err != nil {
		t.Fatal(err)
	}
	f, err := wire.ReadFrame(&buf, 0)
	if err != nil || f.Type != wire.MsgEventsBinary {
		t.Fatalf("frame %v %v", f.Type, err)
	}
	got, err := wire.DecodeEventsBinary("k", f.Payload)
	if err != nil || len(got) != 2 || got[0] != evs[0] || got[1] != evs[1] {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	for cut := 0; cut < len(f.Payload); cut++ {
		if _, err := wire.DecodeEventsBinary("k", f.Payload[:cut]); err == nil {
			t.Fatalf("a payload cut at %d decoded", cut)
		}
	}
}

func TestWire_ContactsRoundTripKeepsEachAgent(t *testing.T) {
	evs := []protocol.ContactEvent{
		{AgentID: "kiosk-1", Seq: 7, Time: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), CustomerID: "C1", Channel: "kiosk",
			Type: protocol.ContactOffer, Outcome: protocol.OutcomePresented, OfferID: "retain-10", CampaignID: "winback-q4"},
		{AgentID: "ivr-1", Seq: 3, Time: time.Date(2026, 12, 1, 10, 0, 1, 0, time.UTC), CustomerID: "C1", Channel: "ivr",
			Type: protocol.ContactOffer, Outcome: protocol.OutcomeDeclined, OfferID: "retain-10"},
	}
	fr, err := wire.EncodeContacts(evs)
	if err != nil {
		t.Fatal(err)
	}
	f, err := wire.ReadFrame(bytes.NewReader(fr), 0)
	if err != nil || f.Type != wire.MsgContacts {
		t.Fatalf("frame %v %v", f.Type, err)
	}
	got, err := wire.DecodeContacts(f.Payload)
	if err != nil || len(got) != 2 || got[0] != evs[0] || got[1] != evs[1] {
		t.Fatalf("got %+v %v", got, err)
	}
	for _, bad := range [][]byte{nil, {2, 0}, {1, 5}, append(append([]byte{}, f.Payload...), 0)} {
		if _, err := wire.DecodeContacts(bad); err == nil {
			t.Errorf("payload %x accepted", bad)
		}
	}
}
