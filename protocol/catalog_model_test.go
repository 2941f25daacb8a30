package protocol_test

import (
	"testing"

	"touchpoint.dev/touchpoint/protocol"
)

func TestActiveModel_OneWinsWhateverTheOrder(t *testing.T) {
	m := func(id string, version int, status, created string) protocol.Model {
		return protocol.Model{ID: id, Version: version, Status: status, CreatedAt: created}
	}
	for _, tc := range []struct {
		name   string
		models []protocol.Model
		want   string
	}{
		{"none", nil, ""},
		{"none active", []protocol.Model{m("a", 3, "inactive", ""), m("b", 1, "", "")}, ""},
		{"the active one", []protocol.Model{m("a", 3, "inactive", ""), m("b", 1, "active", "")}, "b"},
		{"two active: higher version", []protocol.Model{m("a", 2, "active", "2026-12-02T00:00:00Z"), m("b", 5, "active", "2026-12-01T00:00:00Z")}, "b"},
		{"two active: later createdAt", []protocol.Model{m("a", 2, "active", "2026-12-02T00:00:00Z"), m("b", 2, "active", "2026-12-01T00:00:00Z")}, "a"},
		{"two active: greater id", []protocol.Model{m("a", 2, "active", "x"), m("b", 2, "active", "x")}, "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, models := range [][]protocol.Model{tc.models, reversed(tc.models)} {
				got := ""
				if a := protocol.ActiveModel(models); a != nil {
					got = a.ID
				}
				if got != tc.want {
					t.Errorf("ActiveModel = %q, want %q", got, tc.want)
				}
			}
		})
	}
}

func reversed(ms []protocol.Model) []protocol.Model {
	out := make([]protocol.Model, len(ms))
	for i, m := range ms {
		out[len(ms)-1-i] = m
	}
	return out
}

func TestScoringAttributes_DerivedWinsAndIdentityIsSeen(t *testing.T) {
	p := &protocol.Profile{ID: "C1", Region: "sh", DoNotDisturb: true,
		Attributes: map[string]any{"plan": "basic", "churnRisk": "old"}, Derived: map[string]any{"churnRisk": 0.4}}
	got := protocol.ScoringAttributes(p, map[string]any{"stale": 1})
	if got["plan"] != "basic" || got["churnRisk"] != 0.4 || got["id"] != "C1" || got["region"] != "sh" || got["doNotDisturb"] != true || got["stale"] != nil || len(got) != 5 {
		t.Errorf("ScoringAttributes = %v", got)
	}
}
