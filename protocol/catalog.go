package protocol

import (
	"fmt"
	"strconv"
	"time"

	"touchpoint.dev/touchpoint/protocol/churnmodel"
	"touchpoint.dev/touchpoint/protocol/propensity"
)

// Kind names a catalogue document type. Kinds are written exactly as in the
// documents analysts apply (`kind: Offer`).
type Kind string

// The catalogue kinds.
const (
	KindOffer         Kind = "Offer"
	KindPlan          Kind = "Plan"
	KindCampaign      Kind = "Campaign"
	KindContactPolicy Kind = "ContactPolicy"
	KindModel         Kind = "Model"
	KindPropensities  Kind = "PropensityTable"
)

// Kinds lists every catalogue kind in a stable order.
var Kinds = []Kind{KindOffer, KindPlan, KindCampaign, KindContactPolicy, KindModel, KindPropensities}

// Plural is the collection name used in URLs and on the command line
// (`get offers`).
func (k Kind) Plural() string {
	switch k {
	case KindOffer:
		return "offers"
	case KindPlan:
		return "plans"
	case KindCampaign:
		return "campaigns"
	case KindContactPolicy:
		return "policies"
	case KindModel:
		return "models"
	case KindPropensities:
		return "propensities"
	}
	return ""
}

// KindFromPlural maps a collection name (or a kind name, in any case) back to
// its kind.
func KindFromPlural(s string) (Kind, bool) {
	for _, k := range Kinds {
		if s == k.Plural() || s == string(k) || s == lower(string(k)) {
			return k, true
		}
	}
	switch s {
	case "offer":
		return KindOffer, true
	case "plan":
		return KindPlan, true
	case "campaign":
		return KindCampaign, true
	case "policy", "contactpolicies":
		return KindContactPolicy, true
	case "model":
		return KindModel, true
	case "propensitytables", "propensity":
		return KindPropensities, true
	}
	return "", false
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Channels a decision or contact can happen on.
const (
	ChannelKiosk    = "kiosk"
	ChannelIVR      = "ivr"
	ChannelTerminal = "terminal"
	ChannelApp      = "app"
	ChannelWeb      = "web"
	ChannelSMS      = "sms"
	// ChannelAll is valid only in a contact policy: the cap counts contacts
	// on every channel together.
	ChannelAll = "all"
)

// KnownChannels are the channels an offer or campaign may name.
var KnownChannels = []string{ChannelKiosk, ChannelIVR, ChannelTerminal, ChannelApp, ChannelWeb, ChannelSMS}

// Offer categories.
const (
	CategoryRetention = "retention"
	CategoryUpsell    = "upsell"
	CategoryCrossSell = "cross-sell"
	CategoryTariff    = "tariff"
	CategoryCare      = "care"
)

// KnownCategories lists the offer categories.
var KnownCategories = []string{CategoryRetention, CategoryUpsell, CategoryCrossSell, CategoryTariff, CategoryCare}

// Campaign statuses. An empty status means active.
const (
	StatusDraft     = "draft"
	StatusActive    = "active"
	StatusPaused    = "paused"
	StatusCompleted = "completed"
)

// KnownCampaignStatuses lists the campaign statuses.
var KnownCampaignStatuses = []string{StatusDraft, StatusActive, StatusPaused, StatusCompleted}

// Header is what every catalogue document starts with.
type Header struct {
	Kind Kind   `json:"kind"`
	ID   string `json:"id"`
}

// Offer is something an agent can present: a retention discount, an upsell,
// a tariff change, a care action. Money is in yuan (CNY).
type Offer struct {
	Kind        Kind     `json:"kind"`
	ID          string   `json:"id"`
	Name        string   `json:"name,omitempty"`
	Description string   `json:"description,omitempty"`
	Category    string   `json:"category"`
	Value       float64  `json:"value"`
	Cost        float64  `json:"cost"`
	Channels    []string `json:"channels,omitempty"`
	// ValidFrom and ValidUntil bound when the offer may be presented
	// (RFC 3339); empty means unbounded.
	ValidFrom  string `json:"validFrom,omitempty"`
	ValidUntil string `json:"validUntil,omitempty"`
	// Eligibility, Applicability and Suitability are boolean rules over
	// `profile.*`, `context.*` and `now`. Empty means true.
	Eligibility   string `json:"eligibility,omitempty"`
	Applicability string `json:"applicability,omitempty"`
	Suitability   string `json:"suitability,omitempty"`
	// LeverWeight scales the offer's priority in arbitration; 0 means 1.
	LeverWeight float64 `json:"leverWeight,omitempty"`
	// Propensity is the prior acceptance probability used until the
	// adaptive model has learned one; 0 means DefaultPropensity.
	Propensity float64 `json:"propensity,omitempty"`
	// VolumeCap is the most times the offer may be presented in total;
	// 0 means no cap.
	VolumeCap int64 `json:"volumeCap,omitempty"`
	// Suppression pauses the offer for a customer who keeps declining it.
	Suppression *Suppression `json:"suppression,omitempty"`
	// Transactional offers bypass marketing contact caps, never
	// do-not-disturb.
	Transactional bool `json:"transactional,omitempty"`
	// PlanID names the tariff plan a tariff offer moves the customer to.
	PlanID string `json:"planId,omitempty"`
}

// DefaultPropensity is the acceptance prior of an offer that states none.
const DefaultPropensity = 0.1

// EffectiveLeverWeight is LeverWeight with its default applied.
func (o *Offer) EffectiveLeverWeight() float64 {
	if o.LeverWeight == 0 {
		return 1
	}
	return o.LeverWeight
}

// EffectivePropensity is Propensity with its default applied.
func (o *Offer) EffectivePropensity() float64 {
	if o.Propensity == 0 {
		return DefaultPropensity
	}
	return o.Propensity
}

// Suppression: after Declines declines within Days days, the offer is not
// presented to that customer for PauseDays days.
type Suppression struct {
	Declines  int `json:"declines"`
	Days      int `json:"days"`
	PauseDays int `json:"pauseDays"`
}

// Plan is a tariff plan: a monthly fee with allowances and overage prices
// (yuan per minute, per MB, per SMS).
type Plan struct {
	Kind            Kind    `json:"kind"`
	ID              string  `json:"id"`
	Name            string  `json:"name,omitempty"`
	MonthlyFee      float64 `json:"monthlyFee"`
	VoiceMinutes    float64 `json:"voiceMinutes,omitempty"`
	DataMB          float64 `json:"dataMB,omitempty"`
	SMS             float64 `json:"sms,omitempty"`
	VoiceOverage    float64 `json:"voiceOverage,omitempty"`
	DataOverage     float64 `json:"dataOverage,omitempty"`
	SMSOverage      float64 `json:"smsOverage,omitempty"`
	Status          string  `json:"status,omitempty"`
	Description     string  `json:"description,omitempty"`
	AllowDowngrades bool    `json:"allowDowngrades,omitempty"`
}

// Campaign groups offers for a target segment on some channels over a
// schedule, with a control group for measuring uplift.
type Campaign struct {
	Kind        Kind     `json:"kind"`
	ID          string   `json:"id"`
	Name        string   `json:"name,omitempty"`
	Description string   `json:"description,omitempty"`
	Segment     string   `json:"segment,omitempty"`
	Offers      []string `json:"offers"`
	Channels    []string `json:"channels,omitempty"`
	StartAt     string   `json:"startAt,omitempty"`
	EndAt       string   `json:"endAt,omitempty"`
	Status      string   `json:"status,omitempty"`
	// BusinessWeight scales every offer of the campaign in arbitration;
	// 0 means 1.
	BusinessWeight float64 `json:"businessWeight,omitempty"`
	Budget         float64 `json:"budget,omitempty"`
	// ControlGroupPercent of customers (by a deterministic hash of
	// customer and campaign) are held out.
	ControlGroupPercent float64 `json:"controlGroupPercent"`
}

// ContactPolicy caps how often a customer may be contacted.
type ContactPolicy struct {
	Kind Kind   `json:"kind"`
	ID   string `json:"id"`
	// Channel is a channel name or "all".
	Channel     string `json:"channel"`
	MaxContacts int    `json:"maxContacts"`
	// Types are the contact types the cap counts (ContactTypes); empty:
	// every type.
	Types []string `json:"types,omitempty"`
	// Window is a Go duration ("168h").
	Window         string      `json:"window"`
	QuietHours     *QuietHours `json:"quietHours,omitempty"`
	RequireConsent bool        `json:"requireConsent,omitempty"`
	Description    string      `json:"description,omitempty"`
}

// WindowDuration parses Window; callers see only validated policies.
func (p *ContactPolicy) WindowDuration() (time.Duration, error) {
	d, err := time.ParseDuration(p.Window)
	if err != nil {
		return 0, fmt.Errorf("window %q: %w", p.Window, err)
	}
	return d, nil
}

// QuietHours is a daily span ("21:00" to "08:00", may cross midnight) in
// a time zone (default Asia/Shanghai) during which no marketing contact is
// made.
type QuietHours struct {
	Start    string `json:"start"`
	End      string `json:"end"`
	Timezone string `json:"timezone,omitempty"`
}

// DefaultTimezone is where Touchpoint's operators are.
const DefaultTimezone = "Asia/Shanghai"

// LoadZone loads an IANA time zone by name. Go's "Local" (the host's
// zone) and "" are refused: a catalogue or an agent that named them would
// mean different hours on machines set to different zones.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("%q is not an IANA time zone name such as %q or \"UTC\"", name, DefaultTimezone)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: use an IANA name such as %q or \"UTC\"", name, DefaultTimezone)
	}
	return loc, nil
}

// Model statuses. At most one churn model is active: activating one
// (POST /v1/models/{id}/activate) deactivates the others in the same Raft
// entry.
const (
	ModelActive   = "active"
	ModelInactive = "inactive"
)

// Model is a trained churn early-warning model in the catalogue: agents
// score every decision's customer with the active one. ID names the model
// and Version counts how often that id was stored (the control plane
// increments it). Thresholds are authoritative: the body's
// warningThresholds are rewritten to match them, as its kind is to
// ModelKind. See docs/MODELS.md.
type Model struct {
	Kind        Kind   `json:"kind"`
	ID          string `json:"id"`
	ModelKind   string `json:"modelKind"` // churnmodel.KindLogistic or churnmodel.KindGBDT
	Version     int    `json:"version"`
	Label       string `json:"label,omitempty"`
	Description string `json:"description,omitempty"`
	// Status is ModelActive or ModelInactive (empty means inactive).
	Status string `json:"status"`
	// CreatedAt is when this version was stored (RFC 3339).
	CreatedAt  string                       `json:"createdAt,omitempty"`
	Metrics    ModelMetrics                 `json:"metrics"`
	Thresholds churnmodel.WarningThresholds `json:"thresholds"`
	// Body is the model itself, as `models train --save` writes it.
	Body *churnmodel.Model `json:"model"`
}

// ModelMetrics summarise a model's evaluation on rows it was not trained
// on (the body's metrics hold the full tables).
type ModelMetrics struct {
	AUC       float64 `json:"auc"`
	Accuracy  float64 `json:"accuracy"`
	LogLoss   float64 `json:"logLoss,omitempty"`
	TrainRows int     `json:"trainRows"`
	TestRows  int     `json:"testRows,omitempty"`
	// Evaluation is what AUC and accuracy were measured on: "test" (a
	// file of its own, models train --test) or "holdout" (rows held out
	// of the training file, --holdout); empty when not known.
	Evaluation string `json:"evaluation,omitempty"`
	Positives  int    `json:"positives,omitempty"`
	Trees      int    `json:"trees,omitempty"`
}

// IsActive reports whether the model is the active churn model.
func (m *Model) IsActive() bool { return m.Status == ModelActive }

// ActiveModel picks the churn model agents score with: the active one. If
// a hand-written apply left several active, the highest version wins, then
// the latest createdAt, then the greatest id, so every node agrees. It
// returns nil when none is active.
func ActiveModel(models []Model) *Model {
	var best *Model
	for i := range models {
		m := &models[i]
		if !m.IsActive() {
			continue
		}
		if best == nil || m.Version > best.Version ||
			(m.Version == best.Version && (m.CreatedAt > best.CreatedAt || (m.CreatedAt == best.CreatedAt && m.ID > best.ID))) {
			best = m
		}
	}
	return best
}

// ScoringAttributes is what a churn model (like a rule's profile.<name>)
// sees of a profile: its attributes, then its derived fields (a derived
// field wins over an attribute of the same name), then id, region and
// doNotDisturb. It clears dst (nil: a new map), fills it and returns it.
// The agent's engine builds the same map for its rules; the control
// plane's watchlist uses this one, so both score a customer alike.
func ScoringAttributes(p *Profile, dst map[string]any) map[string]any {
	if dst == nil {
		dst = make(map[string]any, len(p.Attributes)+len(p.Derived)+3)
	}
	clear(dst)
	for k, v := range p.Attributes {
		dst[k] = v
	}
	for k, v := range p.Derived {
		dst[k] = v
	}
	dst["id"] = p.ID
	if p.Region != "" {
		dst["region"] = p.Region
	}
	dst["doNotDisturb"] = p.DoNotDisturb
	return dst
}

// DefaultPropensityTable is the id of the propensity table agents
// arbitrate with; `touchpoint propensities learn` writes it.
const DefaultPropensityTable = "default"

// DefaultExploreBelow is PropensityTable.ExploreBelow when it is 0.
const DefaultExploreBelow = 100

// PropensityTable is the offers' acceptance propensities learned from the
// contact ledger, per customer segment: a Beta posterior per (offer,
// segment) with the prior an offer without data takes from its catalogue
// propensity (docs/SEGMENTS.md). Agents arbitrate with the table whose id
// is DefaultPropensityTable: an (offer, segment) with fewer than
// ExploreBelow counted contacts is Thompson-sampled at every decision, so
// new offers get exposure; the others use their posterior mean.
type PropensityTable struct {
	Kind Kind   `json:"kind"`
	ID   string `json:"id"`
	// SegmentField names the profile field whose value is a customer's
	// segment (derived fields first, then attributes; rfmSegment by
	// default); a customer without it is in segment "".
	SegmentField string `json:"segmentField"`
	// ExploreBelow: 0 means DefaultExploreBelow; -1 never samples.
	ExploreBelow int64 `json:"exploreBelow,omitempty"`
	// LearnedAt is when the ledger was read (RFC 3339); Contacts counts
	// the contacts the arms hold.
	LearnedAt     string           `json:"learnedAt,omitempty"`
	Contacts      int64            `json:"contacts"`
	PriorStrength float64          `json:"priorStrength"`
	Arms          []propensity.Arm `json:"arms"`
}

// SegmentOf is a customer's segment under t: the profile field
// SegmentField (derived fields first, then attributes) as text — a string
// as it is, a number in Go's shortest form, a boolean as true or false —
// and "" without it. The control plane learns and agents look up with
// the same text.
func (t *PropensityTable) SegmentOf(derived, attributes map[string]any) string {
	v, ok := derived[t.SegmentField]
	if !ok {
		v = attributes[t.SegmentField]
	}
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// Table is the posterior table itself.
func (t *PropensityTable) Table() *propensity.Table {
	return &propensity.Table{PriorStrength: t.PriorStrength, Arms: t.Arms}
}

// Explore is the contact count below which an arm is sampled.
func (t *PropensityTable) Explore() int64 {
	if t.ExploreBelow == 0 {
		return DefaultExploreBelow
	}
	return t.ExploreBelow
}
