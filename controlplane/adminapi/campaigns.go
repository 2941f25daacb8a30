package adminapi

import (
	"context"

	"touchpoint.dev/touchpoint/controlplane/analytics/campaign"
	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol/api"
)

// campaignCounter is what the campaign report reads: the FSM counts the
// ledger, this file turns counts into rates, intervals and returns.
type campaignCounter interface {
	CampaignCounts(id string) (fsm.CampaignCounts, error)
}

// campaignReport serves GET /v1/campaigns/{id}/report.
func (s *Server) campaignReport(_ context.Context, q *request) (any, error) {
	cc, ok := s.state.(campaignCounter)
	if !ok {
		return nil, api.Errorf(api.CodeInternal, "this node's state cannot count campaign results")
	}
	counts, err := cc.CampaignCounts(q.r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return buildCampaignReport(counts), nil
}

// buildCampaignReport computes the report's rates, uplift and returns from
// the ledger's counts (docs/CAMPAIGNS.md).
func buildCampaignReport(c fsm.CampaignCounts) api.CampaignReport {
	r := api.CampaignReport{
		CampaignID: c.Campaign.ID, Name: c.Campaign.Name, Status: c.Campaign.Status,
		ControlGroupPercent: c.Campaign.ControlGroupPercent, Offers: c.Campaign.Offers,
		Index: c.Index, Confidence: 0.95,
		Methods:        api.CampaignMethods{Rate: "wilson", AbsoluteUplift: "newcombe-hybrid-score", RelativeUplift: "katz-log"},
		MixedCustomers: c.Mixed, UnknownOffers: c.UnknownOffers,
		Total:    campaignResults(c.Treatment, c.Control),
		Channels: make([]api.CampaignChannel, len(c.Channels)),
		Days:     make([]api.CampaignDay, len(c.Days)),
	}
	r.SampleRatio = sampleRatio(c.Campaign.ControlGroupPercent, c.Treatment.Targeted, c.Control.Targeted)
	if r.Offers == nil {
		r.Offers = []string{}
	}
	if !c.FirstEvent.IsZero() {
		first, last := c.FirstEvent.UTC(), c.LastEvent.UTC()
		r.FirstEvent, r.LastEvent = &first, &last
	}
	for i, ch := range c.Channels {
		r.Channels[i] = api.CampaignChannel{Channel: ch.Channel, CampaignResults: campaignResults(ch.Treatment, ch.Control)}
	}
	for i, d := range c.Days {
		r.Days[i] = api.CampaignDay{Day: d.Day, Treatment: dayGroup(d.Treatment), Control: dayGroup(d.Control)}
	}
	return r
}

// sampleRatio tests the groups' sizes against the control percentage as
// the catalogue holds it now (the ledger does not say what it was when
// each customer was assigned).
func sampleRatio(controlPercent float64, treatment, control int64) api.CampaignSampleRatio {
	sr := campaign.CheckSampleRatio(treatment, control, controlPercent/100)
	return api.CampaignSampleRatio{
		ExpectedControlShare: sr.ExpectedControlShare,
		ObservedControlShare: opt(sr.ObservedControlShare, sr.ObservedControlShareOK),
		ChiSquare:            opt(sr.ChiSquare, sr.Tested),
		PValue:               opt(sr.PValue, sr.Tested),
		Alpha:                campaign.SRMAlpha,
		Mismatch:             sr.Mismatch,
	}
}

func campaignResults(t, c fsm.CampaignGroupCounts) api.CampaignResults {
	out := api.CampaignResults{Treatment: campaignGroup(t), Control: campaignGroup(c)}
	u := campaign.Compare(campaign.Proportion{K: t.Accepted, N: t.Targeted}, campaign.Proportion{K: c.Accepted, N: c.Targeted}, campaign.Z95)
	out.Uplift = api.CampaignUplift{
		Absolute: opt(u.Absolute, u.AbsoluteOK), AbsoluteCI: optInterval(u.AbsoluteCI, u.AbsoluteCIOK),
		Relative: opt(u.Relative, u.RelativeOK), RelativeCI: optInterval(u.RelativeCI, u.RelativeCIOK),
		Significant: u.Significant(),
	}
	if u.AbsoluteOK {
		out.Uplift.IncrementalAccepted = opt(u.Absolute*float64(t.Targeted), true)
		inc := t.Value - c.Value*float64(t.Targeted)/float64(c.Targeted)
		out.Uplift.IncrementalValue = opt(inc, true)
		out.Uplift.IncrementalROI = opt(campaign.ROI(inc, t.Cost))
	}
	return out
}

func campaignGroup(g fsm.CampaignGroupCounts) api.CampaignGroup {
	success := campaign.Proportion{K: g.Accepted, N: g.Targeted}
	ci, ciOK := success.Wilson(campaign.Z95)
	return api.CampaignGroup{
		Targeted: g.Targeted, Contacted: g.Contacted, Presented: g.Presented, Accepted: g.Accepted,
		Contacts: g.Contacts, Acceptances: g.Acceptances,
		ContactRate:    opt(campaign.Proportion{K: g.Contacted, N: g.Targeted}.Rate()),
		SuccessRate:    opt(success.Rate()),
		SuccessRateCI:  optInterval(ci, ciOK),
		ConversionRate: opt(campaign.Proportion{K: g.Accepted, N: g.Presented}.Rate()),
		Cost:           g.Cost, Value: g.Value,
		ROI: opt(campaign.ROI(g.Value, g.Cost)),
	}
}

func dayGroup(g fsm.CampaignGroupCounts) api.CampaignDayGroup {
	return api.CampaignDayGroup{Targeted: g.Targeted, Contacted: g.Contacted, Presented: g.Presented, Accepted: g.Accepted,
		Contacts: g.Contacts, Acceptances: g.Acceptances, Cost: g.Cost, Value: g.Value}
}

func opt(v float64, ok bool) *float64 {
	if !ok {
		return nil
	}
	return &v
}

func optInterval(i campaign.Interval, ok bool) *api.Interval {
	if !ok {
		return nil
	}
	return &api.Interval{Low: i.Low, High: i.High}
}
