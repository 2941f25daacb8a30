//go:build !race

// The race detector makes encoding 64 MiB of JSON take many seconds; this
// check needs no race detector.

package fsm_test

import (
	"testing"

	"touchpoint.dev/touchpoint/controlplane/fsm"
)

func TestCommand_EncodeRefusesOversizedCommand(t *testing.T) {
	// A []byte payload is base64 in JSON: 3/4 of the limit is enough.
	big := make([]byte, fsm.MaxCommandSize*3/4)
	if _, err := fsm.Encode(fsm.CmdCatalogApply, 0, fsm.Envelope{}, big); err == nil {
		t.Fatal("Encode accepted a command over MaxCommandSize")
	}
}
