package protocol

import "testing"

// FuzzDecodeGossipMeta: metadata from any member never panics the decoder,
// and what decodes encodes back within memberlist's limit or says why.
func FuzzDecodeGossipMeta(f *testing.F) {
	b, _ := GossipMeta{Role: GossipRoleAgent, ID: "kiosk-1", Site: "sh-01", Channel: "kiosk", ConfigIndex: 42, Beat: 7}.Encode()
	f.Add(b)
	f.Add([]byte(`{"role":"server","id":"n1","quicAddr":"127.0.0.1:7501"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := DecodeGossipMeta(in)
		if err != nil {
			return
		}
		if out, err := m.Encode(); err == nil {
			if again, err := DecodeGossipMeta(out); err != nil || again != m {
				t.Fatalf("round trip: %+v vs %+v (%v)", again, m, err)
			}
		}
	})
}

func FuzzParseGossipName(f *testing.F) {
	f.Add("agent/kiosk-1")
	f.Add("server/n1")
	f.Add("agent/../x")
	f.Fuzz(func(t *testing.T, name string) {
		role, id, ok := ParseGossipName(name)
		if ok && GossipName(role, id) != name {
			t.Fatalf("%q parsed as %q %q", name, role, id)
		}
	})
}
