package decide

import (
	"testing"

	"touchpoint.dev/touchpoint/protocol"
)

// The fast path answers simple rules as expr's program does, and leaves
// to the program whatever it is not sure of.
func TestFastPath_AgreesWithTheProgram(t *testing.T) {
	rules := []string{
		"profile.n >= 6", "profile.n > 6", "profile.n < 6", "profile.n <= 6", "profile.n == 6", "profile.n != 6",
		"6 <= profile.n", "6.5 > profile.n", "-1 < profile.n", "profile.n == -3",
		`profile.s == "basic-38"`, `profile.s != "basic-38"`, `profile.s < "c"`, `"c" >= profile.s`,
		`profile.s in ["basic-38", "plus-58"]`, `profile.s not in ["basic-38"]`, `profile.n in ["6"]`,
		"profile.b", "!profile.b", "not profile.b", "profile.b == true", "profile.b != false",
		`profile.n > 1 && profile.s == "x" || !profile.b`, `profile.n > 1 and (profile.s == "x" or profile.b)`,
		"true", "false", "!true",
		`profile.n == "6"`, `profile.s > 3`, `profile.b > 1`, `profile.s == true`,
		`context.k == "v"`, `context.intent == "cancel"`,
	}
	values := []any{6.0, 5.5, -3.0, 0.0, 7, "basic-38", "c", "", true, false, 1e300}
	for _, src := range rules {
		e, r := engineFor(src)
		if r.err != nil {
			t.Fatalf("%s: %v", src, r.err)
		}
		if r.fast == nil {
			t.Errorf("%s: no fast path", src)
		}
		for _, n := range values {
			for _, sv := range values {
				for _, b := range values {
					p := &protocol.Profile{ID: "C1", Attributes: map[string]any{"n": n, "s": sv, "b": b}}
					in := Input{Now: now, Profile: p, Intent: "cancel", Context: map[string]any{"k": sv}}
					s := e.newScratch()
					s.begin(e, &in, p)
					agreeWithVM(t, s, r)
				}
			}
		}
	}
}
