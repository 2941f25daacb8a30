package gateway

import (
	"testing"

	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// Ledger ids that begin with "import." name imported contact histories
// (POST /v1/contacts/import): an agent enrolled under one would share its
// sequence with the import source, and one of them would lose events as
// duplicates.
func TestCheckEnroll_RefusesTheImportPrefix(t *testing.T) {
	req := wire.Enroll{ProtocolVersion: wire.ProtocolVersion, AgentID: "import.cdnow", Channel: "kiosk", Site: "s", Token: "x"}
	err := checkEnroll(req)
	if api.CodeOf(err) != api.CodeInvalidField {
		t.Fatalf("agent id import.cdnow: %v", err)
	}
	req.AgentID = "kiosk-import.1"
	if err := checkEnroll(req); api.CodeOf(err) == api.CodeInvalidField {
		t.Fatalf("an id that only contains import.: %v", err) // the malformed token is its error
	}
}
