package main

import (
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/controlplane/cptest"
)

// Several files apply as one unit; an error names the file and the
// document and line within it, not within the stream they make together.
func TestApply_ErrorsOfSeveralFilesNameTheFile(t *testing.T) {
	c := cptest.New(t, 1)
	addr := c.Nodes[0].URL()
	good := writeFile(t, "offers.yaml", readmeOffer+"---\n"+strings.Replace(readmeOffer, "retain-10", "retain-20", 1))
	repeated := writeFile(t, "plans.yaml", "kind: Plan\nid: basic\nmonthlyFee: 38\nmonthlyFee: 40\n")
	_, errs, code := tp(t, addr, c.Token, "apply", "-f", good, "-f", repeated)
	if code == 0 || !strings.Contains(errs, "plans.yaml, document 0") || !strings.Contains(errs, "line 4:") {
		t.Fatalf("a repeated key in the second file: exit %d: %s", code, errs)
	}
	// A campaign naming an offer no file holds: the cluster's error, put
	// in its file.
	campaign := writeFile(t, "campaign.yaml", "kind: Campaign\nid: c1\noffers: [retain-10]\n---\nkind: Campaign\nid: c2\noffers: [retain-99]\n")
	_, errs, code = tp(t, addr, c.Token, "apply", "-f", good, "-f", campaign)
	if code == 0 || !strings.Contains(errs, "reference_not_found") || !strings.Contains(errs, "campaign.yaml, document 1") {
		t.Fatalf("a missing reference in the second file: exit %d: %s", code, errs)
	}
	out := mustTP(t, addr, c.Token, "get", "campaigns", "-o", "json")
	if strings.Contains(out, `"c1"`) {
		t.Fatalf("a refused apply committed part of itself: %s", out)
	}
	fixed := writeFile(t, "campaign-fixed.yaml", "kind: Campaign\nid: c1\noffers: [retain-10]\n---\nkind: Campaign\nid: c2\noffers: [retain-20]\n")
	mustTP(t, addr, c.Token, "apply", "-f", good, "-f", fixed)
}
