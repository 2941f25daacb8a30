package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"touchpoint.dev/touchpoint/protocol"
)

// DecisionRequest asks an agent what to offer a customer now, on a channel
// (the body of the agent's decision endpoint). Context is free-form request
// context that rules see as context.<key>; the agent adds context.channel
// and context.intent from the fields of the same name.
type DecisionRequest struct {
	CustomerID string         `json:"customerId"`
	Channel    string         `json:"channel"`
	Intent     string         `json:"intent,omitempty"`
	Context    map[string]any `json:"context,omitempty"`
	// DryRun decides as usual but logs nothing: the holdouts of a
	// held-out customer are listed, not recorded as contacts, so they
	// neither count toward caps nor reach campaign reports. For load
	// tests and for trying a kiosk or IVR flow against live customers.
	DryRun bool `json:"dryRun,omitempty"`
}

// Limits of a decision request. A body is refused before it is decoded
// when it is larger than the decoder's limit (DefaultDecisionBodyLimit
// unless the caller gives one), and while it is decoded when its context
// is nested deeper, holds more values or longer strings than these.
const (
	DefaultDecisionBodyLimit = 64 << 10
	// MaxContextDepth counts the context object itself: 1 allows only
	// scalars in it, 4 allows objects and arrays three levels inside it.
	MaxContextDepth = 4
	// MaxContextValues is the number of values in the whole context
	// (every scalar, array and object counts one).
	MaxContextValues = 512
	MaxContextKey    = 128
	MaxContextString = 1024
	MaxIntent        = 64
)

// Reserved context keys: the request's own channel and intent fields fill
// them, so a body may not set them inside context.
var reservedContextKeys = []string{"channel", "intent"}

// Validate checks a request as a client sends it: customerId and channel
// are required, channel is one of protocol.KnownChannels, intent is at most
// MaxIntent letters, digits, '-', '_' or '.', and context holds only JSON
// values (nil, bool, finite float64, string, []any, map[string]any) within
// the limits above.
func (r *DecisionRequest) Validate() error {
	switch {
	case r.CustomerID == "":
		return &Error{Code: CodeMissingField, Field: "customerId", Message: "is required"}
	case !protocol.ValidAgentID(r.CustomerID):
		return &Error{Code: CodeInvalidField, Field: "customerId", Message: "must be 1 to 128 ASCII letters, digits, '-', '_' or '.'"}
	case r.Channel == "":
		return &Error{Code: CodeMissingField, Field: "channel", Message: "is required"}
	case !slices.Contains(protocol.KnownChannels, r.Channel):
		return &Error{Code: CodeInvalidField, Field: "channel", Message: "must be one of " + strings.Join(protocol.KnownChannels, ", ")}
	case r.Intent != "" && (len(r.Intent) > MaxIntent || !protocol.ValidAgentID(r.Intent)):
		return &Error{Code: CodeInvalidField, Field: "intent", Message: fmt.Sprintf("must be at most %d ASCII letters, digits, '-', '_' or '.'", MaxIntent)}
	}
	if r.Context == nil {
		return nil
	}
	for _, k := range reservedContextKeys {
		if _, ok := r.Context[k]; ok {
			return &Error{Code: CodeInvalidField, Field: "context." + k, Message: "is set from the request's own " + k + " field; send it there"}
		}
	}
	n := 0
	return checkContextValue(r.Context, 1, "context", &n)
}

func checkContextValue(v any, depth int, path string, n *int) error {
	*n++
	if *n > MaxContextValues {
		return &Error{Code: CodeInvalidField, Field: "context", Message: fmt.Sprintf("holds more than %d values", MaxContextValues)}
	}
	switch v := v.(type) {
	case nil, bool:
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return &Error{Code: CodeInvalidField, Field: path, Message: "must be a finite number"}
		}
	case string:
		if len(v) > MaxContextString || !utf8.ValidString(v) {
			return &Error{Code: CodeInvalidField, Field: path, Message: fmt.Sprintf("must be at most %d bytes of UTF-8", MaxContextString)}
		}
	case []any:
		if depth > MaxContextDepth {
			return &Error{Code: CodeInvalidField, Field: path, Message: fmt.Sprintf("context is nested deeper than %d levels", MaxContextDepth)}
		}
		for _, e := range v {
			if err := checkContextValue(e, depth+1, path+"[]", n); err != nil {
				return err
			}
		}
	case map[string]any:
		if depth > MaxContextDepth {
			return &Error{Code: CodeInvalidField, Field: path, Message: fmt.Sprintf("context is nested deeper than %d levels", MaxContextDepth)}
		}
		for k, e := range v {
			if k == "" || len(k) > MaxContextKey || !utf8.ValidString(k) {
				return &Error{Code: CodeInvalidField, Field: path, Message: fmt.Sprintf("keys must be 1 to %d bytes of UTF-8", MaxContextKey)}
			}
			if err := checkContextValue(e, depth+1, path+"."+k, n); err != nil {
				return err
			}
		}
	default:
		return &Error{Code: CodeInvalidField, Field: path, Message: fmt.Sprintf("%T is not a JSON value", v)}
	}
	return nil
}

// DecodeDecisionRequest reads and checks a decision request strictly. It
// reads at most limit bytes (DefaultDecisionBodyLimit when limit ≤ 0) and
// refuses a longer body with CodeBodyTooLarge; malformed JSON, a body that
// is not one object, trailing data and repeated keys with CodeInvalidJSON;
// unknown fields with CodeUnknownField; wrong types and values out of
// bounds with CodeInvalidField (Field names the place); a missing
// customerId or channel with CodeMissingField. It decodes token by token,
// so a hostile body costs no more than its size.
func DecodeDecisionRequest(r io.Reader, limit int64) (DecisionRequest, error) {
	if limit <= 0 {
		limit = DefaultDecisionBodyLimit
	}
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return DecisionRequest{}, Errorf(CodeBadRequest, "read the body: %v", err)
	}
	if int64(len(body)) > limit {
		return DecisionRequest{}, Errorf(CodeBodyTooLarge, "the body is larger than %d bytes", limit)
	}
	req, ok := decodeSimpleRequest(body)
	if !ok {
		p := requestParser{dec: json.NewDecoder(bytes.NewReader(body))}
		if req, err = p.request(); err != nil {
			return DecisionRequest{}, err
		}
	}
	if err := req.Validate(); err != nil {
		return DecisionRequest{}, err
	}
	return req, nil
}

type requestParser struct {
	dec    *json.Decoder
	values int
}

func jsonErr(err error) *Error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return Errorf(CodeInvalidJSON, "the body ends early: send one JSON object")
	}
	return Errorf(CodeInvalidJSON, "%v", err)
}

func (p *requestParser) token() (json.Token, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return nil, jsonErr(err)
	}
	return tok, nil
}

func (p *requestParser) request() (DecisionRequest, error) {
	var req DecisionRequest
	tok, err := p.dec.Token()
	if errors.Is(err, io.EOF) {
		return req, Errorf(CodeInvalidJSON, "the body is empty: send a JSON object")
	}
	if err != nil {
		return req, jsonErr(err)
	}
	if tok != json.Delim('{') {
		return req, Errorf(CodeInvalidJSON, "the body must be a JSON object")
	}
	seen := map[string]bool{}
	for p.dec.More() {
		tok, err := p.token()
		if err != nil {
			return req, err
		}
		key, _ := tok.(string)
		if seen[key] {
			return req, &Error{Code: CodeInvalidJSON, Field: key, Message: "appears twice"}
		}
		seen[key] = true
		switch key {
		case "customerId":
			req.CustomerID, err = p.str(key)
		case "channel":
			req.Channel, err = p.str(key)
		case "intent":
			req.Intent, err = p.str(key)
		case "context":
			req.Context, err = p.context()
		case "dryRun":
			req.DryRun, err = p.boolean(key)
		default:
			return req, &Error{Code: CodeUnknownField, Field: key, Message: fmt.Sprintf("unknown field %q", key)}
		}
		if err != nil {
			return req, err
		}
	}
	if _, err := p.token(); err != nil { // the closing brace
		return req, err
	}
	if _, err := p.dec.Token(); !errors.Is(err, io.EOF) {
		return req, Errorf(CodeInvalidJSON, "trailing data after the JSON object")
	}
	return req, nil
}

func (p *requestParser) str(field string) (string, error) {
	tok, err := p.token()
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", &Error{Code: CodeInvalidField, Field: field, Message: "expected a string, got " + tokenKind(tok)}
	}
	return s, nil
}

func (p *requestParser) boolean(field string) (bool, error) {
	tok, err := p.token()
	if err != nil {
		return false, err
	}
	b, ok := tok.(bool)
	if !ok {
		return false, &Error{Code: CodeInvalidField, Field: field, Message: "expected a boolean, got " + tokenKind(tok)}
	}
	return b, nil
}

func tokenKind(tok json.Token) string {
	switch t := tok.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case json.Delim:
		if t == '[' {
			return "an array"
		}
		return "an object"
	}
	return fmt.Sprintf("%T", tok)
}

func (p *requestParser) context() (map[string]any, error) {
	tok, err := p.token()
	if err != nil {
		return nil, err
	}
	if tok == nil {
		return nil, nil
	}
	if tok != json.Delim('{') {
		return nil, &Error{Code: CodeInvalidField, Field: "context", Message: "expected an object, got " + tokenKind(tok)}
	}
	p.values++
	m, err := p.object(1, "context")
	if err != nil {
		return nil, err
	}
	return m, nil
}

// object reads the members of an object whose '{' was read, at depth.
func (p *requestParser) object(depth int, path string) (map[string]any, error) {
	m := map[string]any{}
	for p.dec.More() {
		tok, err := p.token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		if _, dup := m[key]; dup {
			return nil, &Error{Code: CodeInvalidJSON, Field: path + "." + key, Message: "appears twice"}
		}
		if key == "" || len(key) > MaxContextKey {
			return nil, &Error{Code: CodeInvalidField, Field: path, Message: fmt.Sprintf("keys must be 1 to %d bytes of UTF-8", MaxContextKey)}
		}
		v, err := p.value(depth+1, path+"."+key)
		if err != nil {
			return nil, err
		}
		m[key] = v
	}
	if _, err := p.token(); err != nil {
		return nil, err
	}
	return m, nil
}

// value reads one value at depth (the context object is depth 1).
func (p *requestParser) value(depth int, path string) (any, error) {
	p.values++
	if p.values > MaxContextValues {
		return nil, &Error{Code: CodeInvalidField, Field: "context", Message: fmt.Sprintf("holds more than %d values", MaxContextValues)}
	}
	tok, err := p.token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth > MaxContextDepth {
			return nil, &Error{Code: CodeInvalidField, Field: path, Message: fmt.Sprintf("context is nested deeper than %d levels", MaxContextDepth)}
		}
		if t == '{' {
			return p.object(depth, path)
		}
		arr := []any{}
		for p.dec.More() {
			v, err := p.value(depth+1, path+"[]")
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := p.token(); err != nil {
			return nil, err
		}
		return arr, nil
	case string:
		if len(t) > MaxContextString {
			return nil, &Error{Code: CodeInvalidField, Field: path, Message: fmt.Sprintf("must be at most %d bytes of UTF-8", MaxContextString)}
		}
	}
	return tok, nil
}

// SuppressionCode says, in a stable machine-readable word, why a decision
// did not offer an offer. Codes are part of the API: only ever added.
type SuppressionCode string

// Suppression codes of a decision.
const (
	// SuppressedNoCampaign: no campaign lists the offer.
	SuppressedNoCampaign SuppressionCode = "no_campaign"
	// SuppressedCampaignInactive: the campaign's status is draft, paused
	// or completed.
	SuppressedCampaignInactive SuppressionCode = "campaign_inactive"
	// SuppressedOutsideSchedule: now is outside the campaign's
	// startAt/endAt.
	SuppressedOutsideSchedule SuppressionCode = "outside_schedule"
	// SuppressedWrongChannel: the campaign or the offer is not for the
	// request's channel.
	SuppressedWrongChannel SuppressionCode = "wrong_channel"
	// SuppressedNotInSegment: the campaign's segment rule is false.
	SuppressedNotInSegment SuppressionCode = "not_in_segment"
	// SuppressedOutsideValidity: now is outside the offer's
	// validFrom/validUntil.
	SuppressedOutsideValidity SuppressionCode = "outside_validity"
	// SuppressedNotEligible, SuppressedNotApplicable and
	// SuppressedNotSuitable: the offer's eligibility, applicability or
	// suitability rule is false (also when it reads a missing attribute).
	SuppressedNotEligible   SuppressionCode = "not_eligible"
	SuppressedNotApplicable SuppressionCode = "not_applicable"
	SuppressedNotSuitable   SuppressionCode = "not_suitable"
	// SuppressedRuleError: a rule (of the offer or its campaign) does not
	// compile on the agent or fails while it is evaluated.
	SuppressedRuleError SuppressionCode = "rule_error"
	// SuppressedDoNotDisturb: the customer asked not to be contacted at
	// all; applies to transactional offers too.
	SuppressedDoNotDisturb SuppressionCode = "do_not_disturb"
	// SuppressedContactCap: a contact policy's cap for the window is
	// reached.
	SuppressedContactCap SuppressionCode = "contact_cap"
	// SuppressedQuietHours: now is inside a contact policy's quiet hours.
	SuppressedQuietHours SuppressionCode = "quiet_hours"
	// SuppressedNoConsent: a policy requires consent and the customer has
	// not given it for the channel (or "all").
	SuppressedNoConsent SuppressionCode = "no_consent"
	// SuppressedPolicyError: a contact policy cannot be applied (its time
	// zone cannot be loaded, its window or hours do not parse); it fails
	// closed: no marketing contact.
	SuppressedPolicyError SuppressionCode = "policy_error"
	// SuppressedDeclinedRecently: the customer declined the offer often
	// enough that its suppression pause is running.
	SuppressedDeclinedRecently SuppressionCode = "declined_recently"
	// SuppressedVolumeCap: the offer was presented volumeCap times.
	SuppressedVolumeCap SuppressionCode = "volume_cap"
	// SuppressedNoSaving: a tariff offer's plan would not lower the
	// customer's bill, or the current bill is unknown.
	SuppressedNoSaving SuppressionCode = "no_saving"
	// SuppressedPlanUnavailable: a tariff offer names a plan that is
	// missing from the agent's catalogue or retired.
	SuppressedPlanUnavailable SuppressionCode = "plan_unavailable"
)

// Decision answers a DecisionRequest: the offers to present, best first,
// each with its score parts (score = propensity × value × weight, weight =
// contextWeight × leverWeight); every other offer of the catalogue with the
// reason it is not offered; and the campaigns whose control group holds the
// customer out, with the offers withheld for that reason. Every offer of the
// agent's catalogue appears once in Offers or Suppressed, or in Holdout.
type Decision struct {
	DecisionID string `json:"decisionId"`
	CustomerID string `json:"customerId"`
	Channel    string `json:"channel"`
	Intent     string `json:"intent,omitempty"`
	// ConfigIndex is the index of the catalogue the decision was made on.
	ConfigIndex uint64 `json:"configIndex"`
	// Time is the decision time the engine was given.
	Time       time.Time         `json:"time,omitzero"`
	Offers     []DecisionOffer   `json:"offers"`
	Suppressed []SuppressedOffer `json:"suppressed"`
	Holdout    []Holdout         `json:"holdout"`
	// ChurnRisk and ChurnLevel are the customer's churn probability and
	// warning level: scored live by the active churn model when the
	// catalogue has one (ChurnModel and ChurnModelVersion name it), else
	// the profile's derived fields of those names, when it has them.
	// Segment is the profile's derived segment.
	ChurnRisk         *float64 `json:"churnRisk,omitempty"`
	ChurnLevel        string   `json:"churnLevel,omitempty"`
	ChurnModel        string   `json:"churnModel,omitempty"`
	ChurnModelVersion int      `json:"churnModelVersion,omitempty"`
	Segment           string   `json:"segment,omitempty"`
	// Tariff re-rates the customer's usage under every active plan.
	Tariff *TariffAdvice `json:"tariff,omitempty"`
}

// DecisionOffer is one ranked offer with the parts of its score.
type DecisionOffer struct {
	OfferID    string `json:"offerId"`
	CampaignID string `json:"campaignId"`
	Name       string `json:"name,omitempty"`
	Category   string `json:"category"`
	// Rank starts at 1.
	Rank  int     `json:"rank"`
	Score float64 `json:"score"`
	// Propensity is the acceptance probability used (a model's, or the
	// offer's prior).
	Propensity float64 `json:"propensity"`
	// Value is the value to the customer in yuan; for a tariff offer the
	// monthly saving.
	Value float64 `json:"value"`
	// Weight is ContextWeight × LeverWeight.
	Weight float64 `json:"weight"`
	// ContextWeight is the campaign's business weight times the request
	// intent's and the customer's churn level's weights for the category.
	ContextWeight float64 `json:"contextWeight"`
	LeverWeight   float64 `json:"leverWeight"`
	Transactional bool    `json:"transactional,omitempty"`
	PlanID        string  `json:"planId,omitempty"`
	// Reason explains the main factors in words.
	Reason string `json:"reason"`
}

// SuppressedOffer is an offer the decision does not present, and why.
type SuppressedOffer struct {
	OfferID string `json:"offerId"`
	// CampaignID is set when the reason belongs to a campaign.
	CampaignID string          `json:"campaignId,omitempty"`
	Code       SuppressionCode `json:"code"`
	Reason     string          `json:"reason"`
}

// Holdout is a campaign whose control group holds the customer out, with
// the offers that passed every filter and were withheld for that reason
// (log them as contacts with outcome holdout to measure uplift).
type Holdout struct {
	CampaignID string   `json:"campaignId"`
	OfferIDs   []string `json:"offerIds"`
}

// TariffAdvice re-rates the customer's monthly usage under each active
// plan. Bills are in yuan, rounded to 0.01.
type TariffAdvice struct {
	// CurrentPlanID is the customer's plan, when the profile names one
	// the catalogue holds.
	CurrentPlanID string `json:"currentPlanId,omitempty"`
	// CurrentBill is nil when it is unknown.
	CurrentBill *float64 `json:"currentBill"`
	// CurrentBillSource says where CurrentBill comes from: "plan" (the
	// current plan re-rated), or the attribute it was read from
	// ("monthlyCharge", "arpu", "monthlySpend").
	CurrentBillSource string      `json:"currentBillSource,omitempty"`
	Usage             TariffUsage `json:"usage"`
	// UsageError, when set, says which usage attribute is there but is
	// no number ≥ 0 (text such as "420 min"): no plan can be billed, so
	// Plans is empty, CurrentBill nil and every tariff offer suppressed.
	UsageError string `json:"usageError,omitempty"`
	// Plans are every active plan, and the customer's current plan when
	// it is retired, cheapest bill first (ties by catalogue order).
	Plans []PlanBill `json:"plans"`
}

// TariffUsage is the monthly usage re-rated (profile attributes
// voiceMinutes, dataMB, sms; a missing one counts 0, an unusable one 0
// with TariffAdvice.UsageError set).
type TariffUsage struct {
	VoiceMinutes float64 `json:"voiceMinutes"`
	DataMB       float64 `json:"dataMB"`
	SMS          float64 `json:"sms"`
}

// PlanBill is the customer's usage billed under one plan.
type PlanBill struct {
	PlanID string  `json:"planId"`
	Name   string  `json:"name,omitempty"`
	Bill   float64 `json:"bill"`
	// Saving is CurrentBill − Bill (negative: the plan costs more); nil
	// when the current bill is unknown.
	Saving  *float64 `json:"saving"`
	Current bool     `json:"current,omitempty"`
}
