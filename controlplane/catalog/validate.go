package catalog

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// Rule limits: a rule is pushed to every agent, so it must stay small.
const (
	MaxRuleLength = 4096
	MaxRuleNodes  = 2000
	MaxWindow     = 366 * 24 * time.Hour
)

type validator interface{}

// ruleCheck reports whether a rule compiles (nil for an empty rule).
type ruleCheck func(src string) error

type numField struct {
	name string
	v    float64
}

type strField struct {
	name, v string
}

func validate(v validator, rule ruleCheck) ([]Ref, error) {
	switch d := v.(type) {
	case *protocol.Offer:
		return validateOffer(d, rule)
	case *protocol.Plan:
		return nil, validatePlan(d)
	case *protocol.Campaign:
		return validateCampaign(d, rule)
	case *protocol.ContactPolicy:
		return nil, validatePolicy(d)
	case *protocol.Model:
		return nil, validateModel(d)
	case *protocol.PropensityTable:
		return nil, validatePropensities(d)
	}
	return nil, fmt.Errorf("no validator for %T", v)
}

func fieldErr(code api.Code, field, format string, args ...any) error {
	return &api.Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

func nonNegative(field string, x float64) error {
	if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
		return fieldErr(api.CodeInvalidField, field, "must be a number ≥ 0, got %v", x)
	}
	return nil
}

func checkChannels(field string, chs []string) error {
	seen := map[string]bool{}
	for _, c := range chs {
		if !slices.Contains(protocol.KnownChannels, c) {
			return fieldErr(api.CodeInvalidField, field, "unknown channel %q; channels are %v", c, protocol.KnownChannels)
		}
		if seen[c] {
			return fieldErr(api.CodeInvalidField, field, "channel %q listed twice", c)
		}
		seen[c] = true
	}
	return nil
}

func checkTimes(fromField, from, untilField, until string) error {
	var f, u time.Time
	var err error
	if from != "" {
		if f, err = time.Parse(time.RFC3339, from); err != nil {
			return fieldErr(api.CodeInvalidField, fromField, "must be an RFC 3339 time like 2026-01-01T00:00:00+08:00: %v", err)
		}
	}
	if until != "" {
		if u, err = time.Parse(time.RFC3339, until); err != nil {
			return fieldErr(api.CodeInvalidField, untilField, "must be an RFC 3339 time like 2026-12-31T23:59:59+08:00: %v", err)
		}
	}
	if from != "" && until != "" && !u.After(f) {
		return fieldErr(api.CodeInvalidField, untilField, "must be after %s", fromField)
	}
	return nil
}

func validateOffer(o *protocol.Offer, rule ruleCheck) ([]Ref, error) {
	if o.Category == "" {
		return nil, fieldErr(api.CodeMissingField, "category", "an offer needs a category: one of %v", protocol.KnownCategories)
	}
	if !slices.Contains(protocol.KnownCategories, o.Category) {
		return nil, fieldErr(api.CodeInvalidField, "category", "unknown category %q; categories are %v", o.Category, protocol.KnownCategories)
	}
	for _, f := range []numField{{"value", o.Value}, {"cost", o.Cost}, {"leverWeight", o.LeverWeight}} {
		if err := nonNegative(f.name, f.v); err != nil {
			return nil, err
		}
	}
	if math.IsNaN(o.Propensity) || o.Propensity < 0 || o.Propensity > 1 {
		return nil, fieldErr(api.CodeInvalidField, "propensity", "must be between 0 and 1, got %v", o.Propensity)
	}
	if o.VolumeCap < 0 {
		return nil, fieldErr(api.CodeInvalidField, "volumeCap", "must be ≥ 0 (0 means no cap), got %d", o.VolumeCap)
	}
	if s := o.Suppression; s != nil {
		if s.Declines < 1 || s.Days < 1 || s.PauseDays < 1 {
			return nil, fieldErr(api.CodeInvalidField, "suppression", "declines, days and pauseDays must each be ≥ 1")
		}
	}
	if err := checkChannels("channels", o.Channels); err != nil {
		return nil, err
	}
	if err := checkTimes("validFrom", o.ValidFrom, "validUntil", o.ValidUntil); err != nil {
		return nil, err
	}
	for _, f := range []strField{{"eligibility", o.Eligibility}, {"applicability", o.Applicability}, {"suitability", o.Suitability}} {
		if err := rule(f.v); err != nil {
			return nil, withField(err, f.name)
		}
	}
	if o.PlanID != "" {
		if err := checkID(o.PlanID); err != nil {
			return nil, withField(err, "planId")
		}
		return []Ref{{protocol.KindPlan, o.PlanID}}, nil
	}
	if o.Category == protocol.CategoryTariff && o.PlanID == "" {
		return nil, fieldErr(api.CodeMissingField, "planId", "a tariff offer names the plan it moves the customer to")
	}
	return nil, nil
}

func validatePlan(p *protocol.Plan) error {
	fields := []numField{
		{"monthlyFee", p.MonthlyFee}, {"voiceMinutes", p.VoiceMinutes}, {"dataMB", p.DataMB}, {"sms", p.SMS},
		{"voiceOverage", p.VoiceOverage}, {"dataOverage", p.DataOverage}, {"smsOverage", p.SMSOverage},
	}
	for _, f := range fields {
		if err := nonNegative(f.name, f.v); err != nil {
			return err
		}
	}
	switch p.Status {
	case "", "active", "retired":
	default:
		return fieldErr(api.CodeInvalidField, "status", "plan status is active or retired, got %q", p.Status)
	}
	return nil
}

func validateCampaign(c *protocol.Campaign, rule ruleCheck) ([]Ref, error) {
	if len(c.Offers) == 0 {
		return nil, fieldErr(api.CodeMissingField, "offers", "a campaign names at least one offer")
	}
	refs := make([]Ref, 0, len(c.Offers))
	seen := map[string]bool{}
	for _, id := range c.Offers {
		if err := checkID(id); err != nil {
			return nil, withField(err, "offers")
		}
		if seen[id] {
			return nil, fieldErr(api.CodeInvalidField, "offers", "offer %q listed twice", id)
		}
		seen[id] = true
		refs = append(refs, Ref{protocol.KindOffer, id})
	}
	if err := checkChannels("channels", c.Channels); err != nil {
		return nil, err
	}
	if err := checkTimes("startAt", c.StartAt, "endAt", c.EndAt); err != nil {
		return nil, err
	}
	if c.Status != "" && !slices.Contains(protocol.KnownCampaignStatuses, c.Status) {
		return nil, fieldErr(api.CodeInvalidField, "status", "unknown status %q; statuses are %v", c.Status, protocol.KnownCampaignStatuses)
	}
	for _, f := range []numField{{"businessWeight", c.BusinessWeight}, {"budget", c.Budget}} {
		if err := nonNegative(f.name, f.v); err != nil {
			return nil, err
		}
	}
	if math.IsNaN(c.ControlGroupPercent) || c.ControlGroupPercent < 0 || c.ControlGroupPercent > 100 {
		return nil, fieldErr(api.CodeInvalidField, "controlGroupPercent", "must be between 0 and 100, got %v", c.ControlGroupPercent)
	}
	if err := rule(c.Segment); err != nil {
		return nil, withField(err, "segment")
	}
	return refs, nil
}

func validatePolicy(p *protocol.ContactPolicy) error {
	if p.Channel == "" {
		return fieldErr(api.CodeMissingField, "channel", `a contact policy names a channel, or "all"`)
	}
	if p.Channel != protocol.ChannelAll && !slices.Contains(protocol.KnownChannels, p.Channel) {
		return fieldErr(api.CodeInvalidField, "channel", `unknown channel %q; use "all" or one of %v`, p.Channel, protocol.KnownChannels)
	}
	if p.MaxContacts < 0 {
		return fieldErr(api.CodeInvalidField, "maxContacts", "must be ≥ 0, got %d", p.MaxContacts)
	}
	for i, ty := range p.Types {
		if !slices.Contains(protocol.ContactTypes, ty) {
			return fieldErr(api.CodeInvalidField, "types", "unknown contact type %q; types are %v", ty, protocol.ContactTypes)
		}
		if slices.Contains(p.Types[:i], ty) {
			return fieldErr(api.CodeInvalidField, "types", "contact type %q listed twice", ty)
		}
	}
	if p.Window == "" {
		return fieldErr(api.CodeMissingField, "window", `a contact policy needs a window such as "168h"`)
	}
	d, err := time.ParseDuration(p.Window)
	if err != nil || d < time.Second || d > MaxWindow {
		return fieldErr(api.CodeInvalidField, "window", `must be a duration between 1s and 8784h, such as "168h"; got %q`, p.Window)
	}
	if q := p.QuietHours; q != nil {
		for _, f := range []strField{{"quietHours.start", q.Start}, {"quietHours.end", q.End}} {
			if _, err := time.Parse("15:04", f.v); err != nil || len(f.v) != len("15:04") {
				return fieldErr(api.CodeInvalidField, f.name, `must be a time of day as HH:MM, such as "21:00" or "08:00", got %q`, f.v)
			}
		}
		if q.Start == q.End {
			return fieldErr(api.CodeInvalidField, "quietHours.end", "quiet hours from %s to %s are empty: give an end other than the start (an end before the start crosses midnight), or leave quietHours out", q.Start, q.End)
		}
		if q.Timezone != "" {
			if _, err := protocol.LoadZone(q.Timezone); err != nil {
				return fieldErr(api.CodeInvalidField, "quietHours.timezone", "%v", err)
			}
		}
	}
	return nil
}

func withField(err error, field string) error {
	if ae, ok := err.(*api.Error); ok {
		c := *ae
		c.Field = field
		return &c
	}
	return err
}

// ruleEnv is what a rule sees while it is type-checked: profile and context
// are dynamic maps until a profile schema is declared, so any attribute
// compiles and a missing one evaluates to nil.
func ruleEnv() map[string]any {
	return map[string]any{
		"profile": map[string]any{},
		"context": map[string]any{},
		"now":     time.Time{},
	}
}

// CompileRule compiles a boolean rule over profile, context and now. An empty
// rule compiles to nil (always true).
func CompileRule(src string) (*vm.Program, error) {
	if src == "" {
		return nil, nil
	}
	if len(src) > MaxRuleLength {
		return nil, api.Errorf(api.CodeInvalidRule, "rule is %d bytes; the limit is %d", len(src), MaxRuleLength)
	}
	prog, err := expr.Compile(src,
		expr.Env(ruleEnv()),
		expr.AsBool(),
		expr.MaxNodes(MaxRuleNodes),
	)
	if err != nil {
		return nil, api.Errorf(api.CodeInvalidRule, "%v", err)
	}
	// Over profile and context, whose attributes are untyped here, the
	// type check lets through a rule whose top is arithmetic: it can never
	// be true or false, and every decision would filter the offer out
	// with rule_error.
	if op, ok := arithmetic(prog.Node()); ok {
		return nil, api.Errorf(api.CodeInvalidRule, "the rule's result is the value of %q, a number or a string, never true or false; "+
			"write a condition such as profile.tenureMonths >= 6", op)
	}
	return prog, nil
}

// arithmetic reports whether n, a rule's top node, is an arithmetic
// operation (its operator then), whatever its operands' types.
func arithmetic(n ast.Node) (string, bool) {
	switch n := n.(type) {
	case *ast.BinaryNode:
		switch n.Operator {
		case "+", "-", "*", "/", "%", "**", "^", "..":
			return n.Operator, true
		}
	case *ast.UnaryNode:
		switch n.Operator {
		case "-", "+":
			return n.Operator, true
		}
	}
	return "", false
}
