package catalog

import (
	"time"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/propensity"
)

// MaxPropensityBytes bounds one PropensityTable in canonical JSON: 200
// offers in 12 segments are 2,400 arms, about 250 kB.
const MaxPropensityBytes = 1 << 20

// validatePropensities checks a PropensityTable: a prior strength > 0,
// arms sorted by offer then segment, once each, with finite parameters
// > 0 and 0 ≤ accepted ≤ n (propensity.Table.Validate), and its own
// fields.
func validatePropensities(t *protocol.PropensityTable) error {
	if t.ExploreBelow < -1 {
		return fieldErr(api.CodeInvalidField, "exploreBelow", "must be -1 (never sample), 0 (the default, %d) or a contact count, got %d", protocol.DefaultExploreBelow, t.ExploreBelow)
	}
	if t.Contacts < 0 {
		return fieldErr(api.CodeInvalidField, "contacts", "must be ≥ 0, got %d", t.Contacts)
	}
	if t.LearnedAt != "" {
		if _, err := time.Parse(time.RFC3339, t.LearnedAt); err != nil {
			return fieldErr(api.CodeInvalidField, "learnedAt", "must be an RFC 3339 time like 2026-12-01T08:00:00Z: %v", err)
		}
	}
	if t.Arms == nil {
		t.Arms = []propensity.Arm{}
	}
	if err := t.Table().Validate(); err != nil {
		return fieldErr(api.CodeInvalidField, "arms", "%v", err)
	}
	return nil
}
