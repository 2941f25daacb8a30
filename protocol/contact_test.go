package protocol_test

import (
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/protocol"
)

func TestValidAgentID(t *testing.T) {
	for _, id := range []string{"kiosk-1", "ivr_2.sh", "a", strings.Repeat("x", 128)} {
		if !protocol.ValidAgentID(id) {
			t.Errorf("%q refused", id)
		}
	}
	for _, id := range []string{"", ".", "..", "a/b", "a b", strings.Repeat("x", 129), "ágent"} {
		if protocol.ValidAgentID(id) {
			t.Errorf("%q accepted", id)
		}
	}
}
