package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

const campaignCatalogue = readmeOffer + `---
kind: Campaign
id: winback-q4
name: Win back Q4
offers: [retain-10]
channels: [kiosk, ivr]
controlGroupPercent: 30
`

// ingestCampaign commits a small campaign's ledger: ten treatment
// customers presented retain-10 (four accept, on the kiosk on day 1 and on
// the IVR on day 3), five held out (one accepts anyway); day 2 is empty.
func ingestCampaign(t *testing.T, c *cptest.Cluster) {
	t.Helper()
	day1 := time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)
	var evs []protocol.ContactEvent
	add := func(at time.Time, channel, customer, outcome, campaign string) {
		evs = append(evs, protocol.ContactEvent{AgentID: "kiosk-1", Seq: uint64(len(evs) + 1), Time: at, CustomerID: customer,
			Channel: channel, Type: protocol.ContactOffer, Outcome: outcome, CampaignID: campaign, OfferID: "retain-10"})
	}
	for i := range 10 {
		at, ch := day1.Add(time.Duration(i)*time.Minute), "kiosk"
		if i >= 5 {
			at, ch = at.Add(48*time.Hour), "ivr"
		}
		id := fmt.Sprintf("T%d", i)
		add(at, ch, id, protocol.OutcomePresented, "winback-q4")
		if i%5 < 2 {
			add(at.Add(time.Minute), ch, id, protocol.OutcomeAccepted, "winback-q4")
		}
	}
	for i := range 5 {
		id := fmt.Sprintf("H%d", i)
		add(day1.Add(time.Duration(30+i)*time.Minute), "kiosk", id, protocol.OutcomeHoldout, "winback-q4")
		if i == 0 {
			add(day1.Add(50*time.Hour), "kiosk", id, protocol.OutcomeAccepted, "")
		}
	}
	cmd, err := fsm.Encode(fsm.CmdEventsIngest, 0, fsm.Envelope{Time: time.Now().UnixNano()}, fsm.EventsIngest{AgentID: "kiosk-1", Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := c.Store(c.Leader()).Apply(context.Background(), cmd); err != nil || res.Err != nil {
		t.Fatalf("ingest: %v %v", err, res)
	}
}

func TestCLI_CampaignsReportJSONTableAndCharts(t *testing.T) {
	c := cptest.New(t, 1)
	url := c.Nodes[0].URL()
	mustTP(t, url, c.Token, "apply", "-f", writeFile(t, "campaign.yaml", campaignCatalogue))
	ingestCampaign(t, c)

	dir := t.TempDir()
	pngFile, svgFile := filepath.Join(dir, "report.png"), filepath.Join(dir, "report.svg")
	out := mustTP(t, url, c.Token, "campaigns", "report", "winback-q4", "-o", "json", "--chart", pngFile)
	var r api.CampaignReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("-o json is not the report: %v\n%s", err, out)
	}
	tr, ct := r.Total.Treatment, r.Total.Control
	if tr.Targeted != 10 || tr.Contacted != 10 || tr.Presented != 10 || tr.Accepted != 4 || tr.Value != 240 || tr.Cost != 70 ||
		ct.Targeted != 5 || ct.Contacted != 0 || ct.Accepted != 1 || ct.Value != 60 {
		t.Errorf("totals: treatment %+v control %+v", tr, ct)
	}
	// 0.4 − 0.2 = 0.2: four points of twenty, not significant with 10 and 5.
	if u := r.Total.Uplift; u.Absolute == nil || fmt.Sprintf("%.4f", *u.Absolute) != "0.2000" || u.Significant || u.AbsoluteCI == nil || u.AbsoluteCI.Low >= 0 {
		t.Errorf("uplift %+v", u)
	}
	// 5 of 15 held out at 30%: an expected control group of 4.5 is too
	// small to test.
	if sr := r.SampleRatio; sr.ExpectedControlShare != 0.3 || sr.ObservedControlShare == nil || *sr.ObservedControlShare != 5.0/15 ||
		sr.PValue != nil || sr.Mismatch {
		t.Errorf("sampleRatio %+v", sr)
	}
	var raw struct {
		SampleRatio map[string]any `json:"sampleRatio"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil || len(raw.SampleRatio) != 6 || raw.SampleRatio["pValue"] != nil || raw.SampleRatio["mismatch"] != false {
		t.Errorf("-o json sampleRatio %v, %v", raw.SampleRatio, err)
	}
	if len(r.Channels) != 2 || r.Channels[0].Channel != "ivr" || r.Channels[0].Treatment.Targeted != 5 || r.Channels[1].Control.Targeted != 5 {
		t.Errorf("channels %+v", r.Channels)
	}
	if len(r.Days) != 3 || r.Days[1].Day != "2026-11-21" || r.Days[1].Treatment != (api.CampaignDayGroup{}) || r.Days[2].Control.Accepted != 1 {
		t.Errorf("days %+v", r.Days)
	}

	b, err := os.ReadFile(pngFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("%s is not a PNG: % x", pngFile, b[:min(8, len(b))])
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil || img.Bounds().Dx() < 300 || img.Bounds().Dy() < 300 {
		t.Fatalf("PNG decodes to %v, %v", img.Bounds(), err)
	}

	out = mustTP(t, url, c.Token, "campaigns", "report", "winback-q4", "--chart", svgFile)
	for _, want := range []string{"Win back Q4", "40.00%", "+20.00", "not significant", "2026-11-21", svgFile} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "sample ratio") || strings.Contains(out, "trustworthy") {
		t.Errorf("a split as asked is flagged:\n%s", out)
	}
	b, err = os.ReadFile(svgFile)
	if err != nil {
		t.Fatal(err)
	}
	var root struct {
		XMLName xml.Name
	}
	if err := xml.Unmarshal(b, &root); err != nil || root.XMLName.Local != "svg" || !bytes.Contains(b, []byte("winback-q4")) {
		t.Fatalf("SVG root %v, %v", root.XMLName, err)
	}

	// Errors: an unknown campaign, a chart format the command does not draw
	// (refused before any request), a viewer token.
	if _, errs, code := tp(t, url, c.Token, "campaigns", "report", "nope", "-o", "json"); code == 0 || !strings.Contains(errs, "not_found") {
		t.Errorf("unknown campaign: exit %d, %s", code, errs)
	}
	if _, errs, code := tp(t, "127.0.0.1:1", c.Token, "campaigns", "report", "winback-q4", "--chart", filepath.Join(dir, "x.pdf")); code == 0 || !strings.Contains(errs, ".png or .svg") {
		t.Errorf("pdf chart: exit %d, %s", code, errs)
	}
	if _, errs, code := tp(t, url, newToken(t, c, api.RoleViewer), "campaigns", "report", "winback-q4"); code == 0 || !strings.Contains(errs, "forbidden") {
		t.Errorf("viewer: exit %d, %s", code, errs)
	}
	if _, errs, code := tp(t, url, c.Token, "campaigns", "report"); code == 0 || !strings.Contains(errs, "usage") {
		t.Errorf("no id: exit %d, %s", code, errs)
	}
}

// The user test's campaign as the API reports it: 31 treatment customers
// against 357 held out at 20%. The table warns before the numbers, says
// why, and qualifies the "significant" uplift, in both languages.
func TestCLI_CampaignsReportWarnsOfSampleRatioMismatch(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	r := &api.CampaignReport{CampaignID: "lost-logs", ControlGroupPercent: 20, Offers: []string{"retain-10"}, Index: 9,
		SampleRatio: api.CampaignSampleRatio{ExpectedControlShare: 0.2, ObservedControlShare: f(357.0 / 388), ChiSquare: f(1257.48),
			PValue: f(1.97e-275), Alpha: 0.001, Mismatch: true},
		Total: api.CampaignResults{
			Treatment: api.CampaignGroup{Targeted: 31, Accepted: 16, SuccessRate: f(16.0 / 31)},
			Control:   api.CampaignGroup{Targeted: 357, Accepted: 0, SuccessRate: f(0)},
			Uplift:    api.CampaignUplift{Absolute: f(16.0 / 31), AbsoluteCI: &api.Interval{Low: 0.34, High: 0.67}, Significant: true},
		}}
	e := func(lang string) *env { return &env{lang: lang} }
	for _, tc := range []struct {
		lang string
		want []string
	}{
		{"en", []string{
			"WARNING: sample ratio mismatch: control is 92.0% of the 388 targeted customers, controlGroupPercent 20% expects 20.0% (chi-square test, p = 2e-275)",
			"some decisions' presentations were not logged",
			"the uplift below is not trustworthy",
			"significant (not trustworthy: sample ratio mismatch)",
		}},
		{"zh", []string{
			"警告：样本比例失衡：对照组占 388 位目标客户的 92.0%，而对照组比例 20% 应为 20.0%（卡方检验，p = 2e-275）",
			"部分决策的展示未被记录",
			"显著（不可信：样本比例失衡）",
		}},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			var b bytes.Buffer
			if err := (&env{stdout: &b, lang: tc.lang}).printCampaignReport(r); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("table lacks %q:\n%s", w, out)
				}
			}
			if header := e(tc.lang).campMsg(cpgHdrMetric); strings.Index(out, tc.want[0]) > strings.Index(out, header) {
				t.Errorf("the warning comes after the numbers:\n%s", out)
			}
		})
	}
	// Without a mismatch the test's result is still shown, without the
	// warning.
	share, p := 0.2, 0.6
	r.SampleRatio.Mismatch, r.SampleRatio.ObservedControlShare, r.SampleRatio.PValue = false, &share, &p
	var b bytes.Buffer
	if err := (&env{stdout: &b, lang: "en"}).printCampaignReport(r); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); strings.Contains(out, "WARNING") || strings.Contains(out, "trustworthy") ||
		!strings.Contains(out, "sample ratio: control is 20.0% of the 388 targeted customers, controlGroupPercent 20% expects 20.0% (chi-square test, p = 0.6): no mismatch") {
		t.Errorf("no mismatch:\n%s", out)
	}
}

// A report without a control group, or without a held-out customer yet,
// says why there is no uplift instead of printing n/a three times.
func TestCLI_CampaignsReportSaysWhyThereIsNoUplift(t *testing.T) {
	for _, tc := range []struct {
		percent          float64
		treated, heldOut int64
		want, notWant    string
	}{
		{0, 40, 0, "uplift: not measured: the campaign has no control group (controlGroupPercent 0)", "n/a points"},
		{10, 40, 0, "uplift: not measured yet: no customer has been held out (controlGroupPercent 10%)", "n/a points"},
		{10, 0, 5, "uplift: not measured yet: no treated customer has a logged contact", "n/a points"},
	} {
		r := &api.CampaignReport{CampaignID: "c1", ControlGroupPercent: tc.percent}
		r.Total.Treatment.Targeted, r.Total.Control.Targeted = tc.treated, tc.heldOut
		var b bytes.Buffer
		if err := (&env{stdout: &b, lang: "en"}).printCampaignReport(r); err != nil {
			t.Fatal(err)
		}
		if out := b.String(); !strings.Contains(out, tc.want) || strings.Contains(out, tc.notWant) || strings.Contains(out, " \n") {
			t.Errorf("%g%%, %d treated, %d held out:\n%s", tc.percent, tc.treated, tc.heldOut, out)
		}
	}
}
