package fleet

import (
	"bytes"
	"testing"

	"github.com/hashicorp/memberlist"
)

func TestKeyPlan_PrimaryFirstAndOnlyTailRemovals(t *testing.T) {
	k1, k2, k3 := key(1), key(2), key(3)
	cases := []struct {
		name       string
		ring, want [][]byte
		clean      bool // no wanted key is taken off and put back
	}{
		{"rotate", [][]byte{k1}, [][]byte{k2, k1}, true},
		{"drop old", [][]byte{k2, k1}, [][]byte{k2}, true},
		{"rotate again", [][]byte{k2, k1}, [][]byte{k3, k2}, true},
		{"same", [][]byte{k1, k2}, [][]byte{k1, k2}, true},
		{"swap primary", [][]byte{k1, k2}, [][]byte{k2, k1}, true},
		{"drop the middle", [][]byte{k1, k2, k3}, [][]byte{k1, k3}, false},
		{"replace all", [][]byte{k1, k2}, [][]byte{k3}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kr, err := memberlist.NewKeyring(tc.ring[1:], tc.ring[0])
			if err != nil {
				t.Fatal(err)
			}
			used, putBack := false, false
			for _, op := range keyPlan(kr.GetKeys(), tc.want) {
				ring := kr.GetKeys()
				switch op.op {
				case opAdd:
					putBack = putBack || used && containsKey(tc.ring, op.key)
					err = kr.AddKey(op.key)
				case opUse:
					used = true
					err = kr.UseKey(op.key)
				case opRemove:
					if !used {
						t.Fatal("removal before the primary is in use")
					}
					if !bytes.Equal(op.key, ring[len(ring)-1]) || bytes.Equal(op.key, ring[0]) {
						t.Fatalf("removes %x from %x: not the last key, or the primary", op.key[:1], ring)
					}
					err = kr.RemoveKey(op.key)
				}
				if err != nil {
					t.Fatal(err)
				}
				if used && !bytes.Equal(kr.GetPrimaryKey(), tc.want[0]) {
					t.Fatalf("primary %x after %v; want %x", kr.GetPrimaryKey()[:1], op.op, tc.want[0][:1])
				}
			}
			got := kr.GetKeys()
			if len(got) != len(tc.want) || !bytes.Equal(got[0], tc.want[0]) {
				t.Fatalf("ring %x; want %x", got, tc.want)
			}
			for _, k := range tc.want {
				if !containsKey(got, k) {
					t.Fatalf("ring %x lacks %x", got, k[:1])
				}
			}
			if tc.clean && putBack {
				t.Fatal("a wanted key was taken off and put back")
			}
		})
	}
}
