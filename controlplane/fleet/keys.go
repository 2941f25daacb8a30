package fleet

import (
	"bytes"
	"errors"
	"fmt"
	"io"

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
		return nil, fmt.Errorf("fleet: keyring: %w", err)
	}
	return kr, nil
}

// checkKeys validates keys and returns private copies, duplicates dropped.
func checkKeys(keys [][]byte) ([][]byte, error) {
	if len(keys) == 0 {
		return nil, errors.New("fleet: at least one key is required (gossip is always encrypted)")
	}
	var out [][]byte
	for i, k := range keys {
		if err := memberlist.ValidateKey(k); err != nil {
			return nil, fmt.Errorf("fleet: key %d is %d bytes: %w", i, len(k), err)
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
func (f *Fleet) SetKeys(keys [][]byte) error {
	want, err := checkKeys(keys)
	if err != nil {
		return err
	}
	f.keysMu.Lock()
	defer f.keysMu.Unlock()
	for _, op := range keyPlan(f.keyring.GetKeys(), want) {
		var err error
		switch op.op {
		case opAdd:
			err = f.keyring.AddKey(op.key)
		case opUse:
			err = f.keyring.UseKey(op.key)
		case opRemove:
			err = f.keyring.RemoveKey(op.key)
		}
		if err != nil {
			return fmt.Errorf("fleet: set keys: %w", err)
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

// RotateKeys returns the keyring after a rotation: a fresh 32-byte key read
// from rand, then the previous primary (older keys are dropped, so at most
// two remain). With no current keyring it returns the fresh key alone.
// Members that got the new keyring seal with the fresh key and still read
// the old one; a member that has not got it yet cannot read the fresh key
// until it does, so the new keyring should reach every member well within
// a suspicion timeout.
func RotateKeys(current [][]byte, rand io.Reader) ([][]byte, error) {
	fresh := make([]byte, 32)
	if _, err := io.ReadFull(rand, fresh); err != nil {
		return nil, fmt.Errorf("fleet: new gossip key: %w", err)
	}
	if len(current) == 0 {
		return [][]byte{fresh}, nil
	}
	if err := memberlist.ValidateKey(current[0]); err != nil {
		return nil, fmt.Errorf("fleet: current primary gossip key: %w", err)
	}
	if containsKey(current, fresh) {
		return nil, errors.New("fleet: the random source repeated a gossip key")
	}
	return [][]byte{fresh, bytes.Clone(current[0])}, nil
}
