package propensity_test

import (
	"testing"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/propensity"
)

func TestDefaultPropensity_IsTheCatalogues(t *testing.T) {
	if propensity.DefaultPropensity != protocol.DefaultPropensity {
		t.Fatalf("propensity.DefaultPropensity %v, protocol.DefaultPropensity %v", propensity.DefaultPropensity, protocol.DefaultPropensity)
	}
}
