package gossip

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/hashicorp/memberlist"
)

// newKeyring checks a keyring (primary first) and builds memberlist's.
func newKeyring(keys [][]byte) (*memberlist.Keyring, error) {
	keys, err := checkKeys(keys)
	if err != nil {
		return nil, err
	}
	kr, err := memberlist.NewKeyring(keys[1:], keys[0])
	if err != nil {
		return nil, fmt.Errorf("gossip: keyring: %w", err)
	}
	return kr, nil
}

// checkKeys validates keys and returns private copies, duplicates dropped.
func checkKeys(keys [][]byte) ([][]byte, error) {
	if len(keys) == 0 {
		return nil, errors.New("gossip: at least one key is required (gossip is always encrypted)")
	}
	var out [][]byte
	for i, k := range keys {
		if err := memberlist.ValidateKey(k); err != nil {
			return nil, fmt.Errorf("gossip: key %d is %d bytes: %w", i, len(k), err)
		}
		if !containsKey(out, k) {
			out = append(out, bytes.Clone(k))
		}
	}
	return out, nil
}

// SetKeys makes keys (primary first) the keyring: every key installed, the
// first used to encrypt, keys not listed removed. The primary is installed
// and in use before anything is removed.
func (g *Gossip) SetKeys(keys [][]byte) error {
	want, err := checkKeys(keys)
	if err != nil {
		return err
	}
	g.keysMu.Lock()
	defer g.keysMu.Unlock()
	for _, op := range keyPlan(g.keyring.GetKeys(), want) {
		var err error
		switch op.op {
		case opAdd:
			err = g.keyring.AddKey(op.key)
		case opUse:
			err = g.keyring.UseKey(op.key)
		case opRemove:
			err = g.keyring.RemoveKey(op.key)
		}
		if err != nil {
			return fmt.Errorf("gossip: set keys: %w", err)
		}
	}
	return nil
}

type keyOpKind int

const (
	opAdd keyOpKind = iota
	opUse
	opRemove
)

type keyOp struct {
	op  keyOpKind
	key []byte
}

// keyPlan orders the keyring calls that turn ring into want: add what is
// missing, use want[0], then remove the rest.
//
// Removal only ever takes the last key on the ring. memberlist's RemoveKey
// shifts the ring's slice in place, and decryption walks that slice without
// the keyring lock; dropping the tail writes nothing a reader can see. So
// a wanted key standing behind an unwanted one is taken off and put back
// (for that moment, packets sealed with it fail to decrypt, like a lost
// packet). After a rotation (new key first, previous primary second) the
// key to drop is already last, and nothing is taken off twice.
func keyPlan(ring, want [][]byte) []keyOp {
	sim := append([][]byte(nil), ring...)
	var ops []keyOp
	for _, k := range want {
		if !containsKey(sim, k) {
			ops = append(ops, keyOp{opAdd, k})
			sim = append(sim, k)
		}
	}
	ops = append(ops, keyOp{opUse, want[0]})
	front := [][]byte{want[0]}
	for _, k := range sim {
		if !bytes.Equal(k, want[0]) {
			front = append(front, k)
		}
	}
	sim = front
	var putBack [][]byte
	for hasUnwanted(sim, want) {
		last := sim[len(sim)-1]
		ops = append(ops, keyOp{opRemove, last})
		sim = sim[:len(sim)-1]
		if containsKey(want, last) {
			putBack = append(putBack, last)
		}
	}
	for i := len(putBack) - 1; i >= 0; i-- {
		ops = append(ops, keyOp{opAdd, putBack[i]})
	}
	return ops
}

func hasUnwanted(ring, want [][]byte) bool {
	for _, k := range ring {
		if !containsKey(want, k) {
			return true
		}
	}
	return false
}

func containsKey(keys [][]byte, k []byte) bool {
	for _, x := range keys {
		if bytes.Equal(x, k) {
			return true
		}
	}
	return false
}
