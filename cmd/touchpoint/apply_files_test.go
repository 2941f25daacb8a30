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

// A campaign on channels none of its offers can be presented on is
// committed, with a warning on stderr (and in -o json's warnings); so is an
// offer change that strands a campaign. A campaign with one presentable
// offer, or on every channel, is not warned of.
func TestApply_WarnsOfACampaignThatCanPresentNothing(t *testing.T) {
	c := cptest.New(t, 1)
	addr := c.Nodes[0].URL()
	offers := writeFile(t, "offers.yaml", "kind: Offer\nid: kiosk-only\ncategory: retention\nvalue: 10\nchannels: [kiosk]\n"+
		"---\nkind: Offer\nid: anywhere\ncategory: retention\nvalue: 10\n")
	mustTP(t, addr, c.Token, "apply", "-f", offers)
	stranded := writeFile(t, "stranded.yaml", "kind: Campaign\nid: empty-camp\nchannels: [terminal]\noffers: [kiosk-only]\n")
	out, errs, code := tp(t, addr, c.Token, "apply", "-f", stranded)
	if code != 0 || !strings.Contains(out, "created") ||
		!strings.Contains(errs, "warning: no_channel_in_common: Campaign empty-camp runs on terminal, but none of its offers can be presented there (kiosk-only: kiosk)") {
		t.Fatalf("stranded campaign: exit %d\n%s%s", code, out, errs)
	}
	fine := writeFile(t, "fine.yaml", "kind: Campaign\nid: fine\nchannels: [terminal]\noffers: [kiosk-only, anywhere]\n---\n"+
		"kind: Campaign\nid: everywhere\noffers: [kiosk-only]\n")
	if _, errs, code := tp(t, addr, c.Token, "apply", "-f", fine); code != 0 || strings.Contains(errs, "warning") {
		t.Fatalf("presentable campaigns: exit %d %s", code, errs)
	}
	// Moving anywhere off the terminal strands fine.
	moved := writeFile(t, "moved.yaml", "kind: Offer\nid: anywhere\ncategory: retention\nvalue: 10\nchannels: [ivr]\n")
	out, _, code = tp(t, addr, c.Token, "apply", "-f", moved, "-o", "json")
	if code != 0 || !strings.Contains(out, `"code": "no_channel_in_common"`) || !strings.Contains(out, `"id": "fine"`) || strings.Contains(out, `"id": "everywhere"`) {
		t.Fatalf("offer moved: exit %d\n%s", code, out)
	}
}
