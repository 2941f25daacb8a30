package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// SegmentsRunRequest is the body of POST /v1/segments/run: score every
// customer (RFM, value tier, lifecycle stage and, when the ledger allows a
// fit, lifetime value) and write the results into the profiles' derived
// fields through Raft. Every field is optional; docs/SEGMENTS.md defines
// each input and score.
type SegmentsRunRequest struct {
	// AsOf is the date scores are computed at (default: now).
	AsOf time.Time `json:"asOf,omitzero"`
	// Inputs names the profile attributes the scores read.
	Inputs SegmentInputs `json:"inputs,omitzero"`
	// Config holds the thresholds: {"tiers": {...}, "lifecycle": {...},
	// "segments": {...}} (docs/SEGMENTS.md); absent parts are defaults.
	Config json.RawMessage `json:"config,omitempty"`
	// CLVHorizonWeeks is the lifetime-value horizon (default 52); a
	// negative value skips lifetime value.
	CLVHorizonWeeks float64 `json:"clvHorizonWeeks,omitempty"`
	// DryRun scores and reports without writing.
	DryRun bool `json:"dryRun,omitempty"`
}

// SegmentInputs names the profile attributes a segmentation run reads.
// Recency, Frequency and Monetary, when all three are set, replace the
// ledger's transactions (recency in days since the last purchase).
type SegmentInputs struct {
	Recency      string `json:"recency,omitempty"`
	Frequency    string `json:"frequency,omitempty"`
	Monetary     string `json:"monetary,omitempty"`
	Tenure       string `json:"tenure,omitempty"`       // default tenureMonths
	RecentUsage  string `json:"recentUsage,omitempty"`  // default recentUsage
	EarlierUsage string `json:"earlierUsage,omitempty"` // default earlierUsage
	// InactiveDays, when set, replaces the days since the ledger's last
	// contact with the customer.
	InactiveDays string `json:"inactiveDays,omitempty"`
}

// SegmentsRunResult answers a run.
type SegmentsRunResult struct {
	AsOf      time.Time `json:"asOf"`
	Customers int       `json:"customers"`
	// Source is where RFM came from: "ledger" or "attributes".
	Source string `json:"source"`
	// Updated profiles got new derived fields; Unchanged already had them;
	// Missing were erased while the run wrote.
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Missing   int `json:"missing"`
	// Skipped customers have an input attribute that is not a number ≥ 0:
	// they are left out of the run (their stored fields stay), and
	// SkippedCustomers says why for the first ten.
	Skipped          int            `json:"skipped"`
	SkippedCustomers []string       `json:"skippedCustomers,omitempty"`
	Index            uint64         `json:"index,omitempty"`
	Segments         map[string]int `json:"segments"`
	Tiers            map[string]int `json:"tiers"`
	Stages           map[string]int `json:"stages"`
	CLV              CLVRunSummary  `json:"clv"`
	DryRun           bool           `json:"dryRun,omitempty"`
	// Seconds spent reading the state, scoring, and writing.
	ReadSeconds  float64 `json:"readSeconds"`
	ScoreSeconds float64 `json:"scoreSeconds"`
	WriteSeconds float64 `json:"writeSeconds"`
}

// CLVRunSummary is the lifetime-value part of a run: the models fitted on
// the ledger's purchases, or why there are none.
type CLVRunSummary struct {
	Customers int `json:"customers"` // with at least one purchase
	Repeaters int `json:"repeaters"` // with a repeat purchase of positive value
	// FittedOn is how many purchasers BG/NBD was fitted on: all of them,
	// or an even sample of 10,000 in id order; SpendFittedOn is how many
	// repeaters Gamma-Gamma was fitted on (all, or 2,000).
	FittedOn      int                `json:"fittedOn,omitempty"`
	SpendFittedOn int                `json:"spendFittedOn,omitempty"`
	HorizonWeeks  float64            `json:"horizonWeeks,omitempty"`
	BGNBD         map[string]float64 `json:"bgnbd,omitempty"`
	GammaGamma    map[string]float64 `json:"gammaGamma,omitempty"`
	Skipped       string             `json:"skipped,omitempty"`
}

// RunSegments runs the segmentation job and waits for it (a million
// customers take tens of seconds).
func (c *Client) RunSegments(ctx context.Context, req SegmentsRunRequest) (*SegmentsRunResult, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var r SegmentsRunResult
	if err := c.Do(ctx, http.MethodPost, "/v1/segments/run", "application/json", b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// PropensitiesLearnRequest is the body of POST /v1/propensities/learn:
// count the ledger's offer outcomes per (offer, customer segment) into the
// PropensityTable agents arbitrate with (docs/SEGMENTS.md).
type PropensitiesLearnRequest struct {
	// SegmentField is the profile field whose value is the segment
	// (default rfmSegment, which `segments run` writes).
	SegmentField string `json:"segmentField,omitempty"`
	// PriorStrength is the prior's weight in presentations (default 2).
	PriorStrength float64 `json:"priorStrength,omitempty"`
	// ExploreBelow: arms with fewer presentations are Thompson-sampled at each
	// decision (0: 100; -1: never).
	ExploreBelow int64 `json:"exploreBelow,omitempty"`
	DryRun       bool  `json:"dryRun,omitempty"`
}

// PropensitiesLearnResult answers a learn: the table written (or, on a dry
// run, that would be).
type PropensitiesLearnResult struct {
	Index     uint64          `json:"index,omitempty"`
	Events    int             `json:"events"`   // ledger events with an offer
	Segments  int             `json:"segments"` // distinct segments among them
	Table     json.RawMessage `json:"table"`    // the PropensityTable document
	DryRun    bool            `json:"dryRun,omitempty"`
	Duplicate bool            `json:"duplicate,omitempty"`
	// Unchanged: the stored table is already the one learned (same
	// arms and options), so nothing was applied.
	Unchanged bool `json:"unchanged,omitempty"`
	// NothingLearned: no counted outcome in the ledger (holdouts never
	// count), so no table was applied.
	NothingLearned bool `json:"nothingLearned,omitempty"`
}

// LearnPropensities runs the propensity job.
func (c *Client) LearnPropensities(ctx context.Context, req PropensitiesLearnRequest) (*PropensitiesLearnResult, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var r PropensitiesLearnResult
	if err := c.Do(ctx, http.MethodPost, "/v1/propensities/learn", "application/json", b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
