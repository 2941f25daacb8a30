package fsm_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"touchpoint.dev/touchpoint/controlplane/fsm"
)

// retainOffer is the canonical JSON of the offer analysts write as
//
//	kind: Offer
//	id: retain-10
//	name: 10% off for 6 months
//	category: retention
//	value: 60
//	cost: 5
//	channels: [kiosk, ivr]
//	eligibility: profile.tenureMonths >= 6
const retainOffer = `{"kind":"Offer","id":"retain-10","name":"10% off for 6 months","category":"retention","value":60,"cost":5,"channels":["kiosk","ivr"],"eligibility":"profile.tenureMonths \u003e= 6"}`

func TestCommand_EncodeDecode(t *testing.T) {
	tests := []struct {
		name    string
		typ     fsm.CommandType
		flags   uint8
		env     fsm.Envelope
		payload any
		wantP   string
	}{
		{"catalogue apply", fsm.CmdCatalogApply, 0, fsm.Envelope{RequestID: "r1", Time: 1767225600000000000, Actor: "tok-1", Role: "analyst"},
			fsm.CatalogApply{Docs: []fsm.CatalogDoc{{Kind: "Offer", ID: "retain-10", Doc: json.RawMessage(retainOffer)}}},
			string(mustBinary(fsm.CatalogApply{Docs: []fsm.CatalogDoc{{Kind: "Offer", ID: "retain-10", Doc: json.RawMessage(retainOffer)}}}))},
		{"no payload", fsm.CmdRestored, 0, fsm.Envelope{Time: -1}, nil, ""},
		{"ignorable future type", fsm.CommandType(0xffff), fsm.FlagIgnorable | 0x80, fsm.Envelope{Time: 42}, map[string]int{"x": 1}, `{"x":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := fsm.Encode(tt.typ, tt.flags, tt.env, tt.payload)
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != 'T' || b[1] != 1 {
				t.Errorf("header % x, want magic T and version 1", b[:2])
			}
			c, err := fsm.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if c.Type != tt.typ || c.Flags != tt.flags || c.RequestID != tt.env.RequestID || c.Time != tt.env.Time ||
				c.Actor != tt.env.Actor || c.Role != tt.env.Role {
				t.Errorf("decoded %+v, want type %d flags %d envelope %+v", c, tt.typ, tt.flags, tt.env)
			}
			if string(c.Payload) != tt.wantP {
				t.Errorf("payload %s, want %s", c.Payload, tt.wantP)
			}
		})
	}
}

func TestCommand_DecodeRejects(t *testing.T) {
	good, err := fsm.Encode(fsm.CmdNodeRemove, 0, fsm.Envelope{Time: 1}, fsm.NodeRemove{ID: "cp1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short header", good[:4]},
		{"header only", good[:5]},
		{"bad magic", append([]byte{'X'}, good[1:]...)},
		{"future envelope version", append([]byte{'T', 2}, good[2:]...)},
		{"truncated envelope", good[:9]},
		{"envelope length past the end", append(bytes.Clone(good[:5]), 0x7f, '{', '}')},
		{"envelope not an object", append(bytes.Clone(good[:5]), 5, '[', '1', ',', '2', ']')},
		{"time out of range", append(bytes.Clone(good[:5]), append([]byte{11}, `{"t":1e400}`...)...)},
		// The payload is opaque to Decode: its handler decodes it (a
		// truncated payload is refused there, identically on every node).
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := fsm.Decode(tt.b); !errors.Is(err, fsm.ErrBadCommand) {
				t.Errorf("Decode(%q) = %v, want ErrBadCommand", tt.b, err)
			}
		})
	}
}

func TestCommandType_StringNamesEveryType(t *testing.T) {
	seen := map[string]bool{}
	for typ := fsm.CmdInitCluster; typ <= fsm.CmdAgentRevoke; typ++ {
		s := typ.String()
		if strings.HasPrefix(s, "command(") || seen[s] {
			t.Errorf("type %d has name %q", typ, s)
		}
		seen[s] = true
	}
	if got := fsm.CommandType(999).String(); got != "command(999)" {
		t.Errorf("unknown type name %q", got)
	}
}

// commandSeeds are realistic encoded commands plus broken ones.
func commandSeeds(t testing.TB) [][]byte {
	t.Helper()
	var seeds [][]byte
	add := func(c command, idx uint64) { seeds = append(seeds, encode(t, c, idx)) }
	for i, c := range history() {
		add(c, uint64(i+1))
	}
	add(catalogApply("req-retain", fsm.CatalogDoc{Kind: "Offer", ID: "retain-10", Doc: json.RawMessage(retainOffer)}), 9)
	add(command{typ: fsm.CmdRestored, payload: fsm.Restored{Epoch: 1<<64 - 1}}, 10)
	add(command{typ: fsm.CommandType(4242), flags: fsm.FlagIgnorable, payload: []any{nil, 1.5e308, "x"}}, 11)
	hdr := []byte{'T', 1, 0, 2, 0}
	for _, body := range []string{
		``, `{`, `null`, `{}`, `{"t":1e400}`, `{"t":-9223372036854775808}`, `{"t":9223372036854775808}`,
		`{"rid":"\ud800","t":1}`, `{"t":1,"p":NaN}`, `{"t":1,"p":null}`, `{"t":1,"p":"<&>"}`,
		`{"t":1,"p":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`,
		`{"t":1,"RID":"upper","Actor":"x"}`, `{"t":1} {"t":2}`,
	} {
		seeds = append(seeds, append(bytes.Clone(hdr), body...))
	}
	seeds = append(seeds, nil, []byte("T"), []byte("T\x02\x00\x02\x00{}"), []byte("X\x01\x00\x02\x00{}"))
	return seeds
}

func FuzzDecodeCommand(f *testing.F) {
	for _, s := range commandSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := fsm.Decode(b)
		if err != nil {
			if !errors.Is(err, fsm.ErrBadCommand) {
				t.Fatalf("Decode error %v does not wrap ErrBadCommand", err)
			}
			return
		}
		// What decodes re-encodes to the same command.
		b2, err := fsm.Encode(c.Type, c.Flags, c.Envelope, nil)
		if err != nil {
			if len(b) > fsm.MaxCommandSize/2 {
				return
			}
			t.Fatalf("re-encode %+v: %v", c, err)
		}
		c2, err := fsm.Decode(b2)
		if err != nil {
			t.Fatalf("decode re-encoded %q: %v", b2, err)
		}
		if c2.Type != c.Type || c2.Flags != c.Flags || c2.RequestID != c.RequestID || c2.Time != c.Time ||
			c2.Actor != c.Actor || c2.Role != c.Role {
			t.Fatalf("round trip changed the command:\n got %+v\nwant %+v", c2.Envelope, c.Envelope)
		}
		if !bytes.Equal(c2.Payload, c.Payload) {
			t.Fatalf("round trip changed the payload: %q -> %q", c.Payload, c2.Payload)
		}
	})
}

func FuzzEncodeCommand(f *testing.F) {
	f.Add(uint16(fsm.CmdCatalogApply), uint8(0), "req-1", int64(1767225600000000000), "tok-1", "analyst", []byte(`{"docs":[{"kind":"Offer","id":"retain-10","doc":`+retainOffer+`}]}`))
	f.Add(uint16(fsm.CmdRestored), uint8(0), "", int64(-1), "", "", []byte(nil))
	f.Add(uint16(9999), fsm.FlagIgnorable, "ид-запроса", int64(1<<63-1), "tok", "admin", []byte(`[1e308, -0, "\u2028"]`))
	f.Fuzz(func(t *testing.T, typ uint16, flags uint8, rid string, tm int64, actor, role string, payload []byte) {
		for _, s := range []string{rid, actor, role} {
			if !utf8.ValidString(s) {
				return // JSON carries only valid UTF-8 strings
			}
		}
		env := fsm.Envelope{RequestID: rid, Time: tm, Actor: actor, Role: role}
		if json.Valid(payload) {
			env.Payload = payload
		}
		b, err := fsm.Encode(fsm.CommandType(typ), flags, env, nil)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		c, err := fsm.Decode(b)
		if err != nil {
			t.Fatalf("decode what Encode wrote: %v", err)
		}
		if c.Type != fsm.CommandType(typ) || c.Flags != flags || c.RequestID != rid || c.Time != tm || c.Actor != actor || c.Role != role {
			t.Fatalf("round trip: got %+v type %d flags %d", c.Envelope, c.Type, c.Flags)
		}
		if !bytes.Equal(c.Payload, env.Payload) {
			t.Fatalf("payload %q came back as %q", env.Payload, c.Payload)
		}
	})
}

func mustBinary(p fsm.CatalogApply) []byte {
	b, err := p.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzCatalogApplyPayload: the binary catalogue payload decoder never
// panics, and what it accepts survives an encode/decode round trip.
func FuzzCatalogApplyPayload(f *testing.F) {
	f.Add(mustBinary(fsm.CatalogApply{Docs: []fsm.CatalogDoc{{Kind: "Offer", ID: "retain-10", Doc: json.RawMessage(retainOffer)}}}))
	f.Add(mustBinary(fsm.CatalogApply{Docs: []fsm.CatalogDoc{{Kind: "Campaign", ID: "c", Doc: json.RawMessage(`{}`),
		Refs: []fsm.ObjectRef{{Kind: "Offer", ID: "retain-10"}, {Kind: "Plan", ID: "p"}}}}}))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p fsm.CatalogApply
		if err := p.UnmarshalBinary(b); err != nil {
			return
		}
		var p2 fsm.CatalogApply
		if err := p2.UnmarshalBinary(mustBinary(p)); err != nil {
			t.Fatalf("decode re-encoded %+v: %v", p, err)
		}
		if fmt.Sprintf("%q", p2.Docs) != fmt.Sprintf("%q", p.Docs) {
			t.Fatalf("round trip changed %q into %q", p.Docs, p2.Docs)
		}
	})
}
