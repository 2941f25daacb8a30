package fsm_test

import (
	"encoding/json"
	"testing"

	"touchpoint.dev/touchpoint/controlplane/fsm"
)

// The change feed and audit records are assembled by hand; their strings
// must be exactly what encoding/json writes.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "retain-10", "Offer/retain-10", `a"b`, `back\slash`, "<html>&", "李伟", "\x00\x1f", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := fsm.AppendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}
