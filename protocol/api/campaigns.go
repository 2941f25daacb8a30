package api

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// CampaignReport answers GET /v1/campaigns/{id}/report: a campaign's
// results counted from the contact ledger, treatment against control, in
// total, per channel and per UTC day. docs/CAMPAIGNS.md defines every
// field. A rate, interval or return that the counts do not define (a
// division by zero) is null.
type CampaignReport struct {
	CampaignID          string  `json:"campaignId"`
	Name                string  `json:"name,omitempty"`
	Status              string  `json:"status,omitempty"`
	ControlGroupPercent float64 `json:"controlGroupPercent"`
	// Offers are the campaign's offers: accepting one of them after
	// assignment is a success in either group.
	Offers []string `json:"offers"`
	// Index is the applied index the report was read at.
	Index uint64 `json:"index"`
	// Confidence is the level of every interval (0.95).
	Confidence float64 `json:"confidence"`
	// Methods name the interval methods.
	Methods CampaignMethods `json:"methods"`
	// FirstEvent and LastEvent bound the events counted (null: none).
	FirstEvent *time.Time `json:"firstEvent"`
	LastEvent  *time.Time `json:"lastEvent"`
	// MixedCustomers have both holdout and non-holdout events of the
	// campaign; they count in the group of their first event.
	MixedCustomers int64 `json:"mixedCustomers"`
	// UnknownOffers counts contacts and acceptances naming an offer the
	// catalogue does not hold (no cost or catalogue value).
	UnknownOffers int64 `json:"unknownOffers"`
	// SampleRatio tests the total groups' sizes against
	// controlGroupPercent; when it finds a mismatch the uplift is not
	// trustworthy.
	SampleRatio CampaignSampleRatio `json:"sampleRatio"`
	Total       CampaignResults     `json:"total"`
	Channels    []CampaignChannel   `json:"channels"`
	Days        []CampaignDay       `json:"days"`
}

// CampaignSampleRatio is the sample-ratio-mismatch test of the total
// groups: the control group's share of the targeted customers against
// controlGroupPercent as it is now, by a chi-square goodness-of-fit test
// (1 degree of freedom). docs/CAMPAIGNS.md says when it is not run and how
// to read it.
type CampaignSampleRatio struct {
	// ExpectedControlShare is controlGroupPercent / 100.
	ExpectedControlShare float64 `json:"expectedControlShare"`
	// ObservedControlShare is control targeted / all targeted (null:
	// nobody targeted).
	ObservedControlShare *float64 `json:"observedControlShare"`
	// ChiSquare and PValue are null when the test was not run (a control
	// percentage of 0 or 100, or too few customers).
	ChiSquare *float64 `json:"chiSquare"`
	PValue    *float64 `json:"pValue"`
	// Alpha is the threshold: a p-value below it is a mismatch (0.001).
	Alpha float64 `json:"alpha"`
	// Mismatch: the groups are not the split the control percentage
	// makes, most likely because decisions whose presentations were not
	// logged are missing from the treatment group. The uplift is then
	// not trustworthy.
	Mismatch bool `json:"mismatch"`
}

// CampaignMethods names how the intervals are computed.
type CampaignMethods struct {
	Rate           string `json:"rate"`           // "wilson"
	AbsoluteUplift string `json:"absoluteUplift"` // "newcombe-hybrid-score"
	RelativeUplift string `json:"relativeUplift"` // "katz-log"
}

// CampaignResults are both groups and the uplift of treatment over control.
type CampaignResults struct {
	Treatment CampaignGroup  `json:"treatment"`
	Control   CampaignGroup  `json:"control"`
	Uplift    CampaignUplift `json:"uplift"`
}

// CampaignChannel is the results of the customers assigned on one channel.
type CampaignChannel struct {
	Channel string `json:"channel"`
	CampaignResults
}

// CampaignGroup is one group's funnel, rates, cost and value.
type CampaignGroup struct {
	Targeted    int64 `json:"targeted"`
	Contacted   int64 `json:"contacted"`
	Presented   int64 `json:"presented"`
	Accepted    int64 `json:"accepted"`
	Contacts    int64 `json:"contacts"`
	Acceptances int64 `json:"acceptances"`
	// ContactRate is contacted / targeted.
	ContactRate *float64 `json:"contactRate"`
	// SuccessRate is accepted / targeted, the rate uplift compares.
	SuccessRate   *float64  `json:"successRate"`
	SuccessRateCI *Interval `json:"successRateCI"`
	// ConversionRate is accepted / presented.
	ConversionRate *float64 `json:"conversionRate"`
	Cost           float64  `json:"cost"`
	Value          float64  `json:"value"`
	// ROI is (value − cost) / cost.
	ROI *float64 `json:"roi"`
}

// CampaignUplift is treatment against control.
type CampaignUplift struct {
	// Absolute is the difference of success rates (0.04: four points).
	Absolute   *float64  `json:"absolute"`
	AbsoluteCI *Interval `json:"absoluteCI"`
	// Relative is the ratio of success rates minus one (0.5: +50%).
	Relative   *float64  `json:"relative"`
	RelativeCI *Interval `json:"relativeCI"`
	// Significant: the absolute interval excludes zero.
	Significant bool `json:"significant"`
	// IncrementalAccepted is absolute × treatment targeted: the successes
	// the campaign caused.
	IncrementalAccepted *float64 `json:"incrementalAccepted"`
	// IncrementalValue is treatment value − control value × treatment
	// targeted / control targeted.
	IncrementalValue *float64 `json:"incrementalValue"`
	// IncrementalROI is (incrementalValue − treatment cost) / treatment cost.
	IncrementalROI *float64 `json:"incrementalROI"`
}

// Interval is a confidence interval.
type Interval struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// CampaignDay is one UTC day's counts (each customer on the day it first
// reached a stage; cost and value on the day they were incurred).
type CampaignDay struct {
	Day       string           `json:"day"`
	Treatment CampaignDayGroup `json:"treatment"`
	Control   CampaignDayGroup `json:"control"`
}

// CampaignDayGroup is one group's counts on one day.
type CampaignDayGroup struct {
	Targeted    int64   `json:"targeted"`
	Contacted   int64   `json:"contacted"`
	Presented   int64   `json:"presented"`
	Accepted    int64   `json:"accepted"`
	Contacts    int64   `json:"contacts"`
	Acceptances int64   `json:"acceptances"`
	Cost        float64 `json:"cost"`
	Value       float64 `json:"value"`
}

// CampaignReport reads a campaign's results (not_found for an unknown
// campaign).
func (c *Client) CampaignReport(ctx context.Context, id string, stale bool) (*CampaignReport, error) {
	var r CampaignReport
	p := "/v1/campaigns/" + url.PathEscape(id) + "/report" + staleQuery(stale)
	if err := c.Do(ctx, http.MethodGet, p, "", nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
