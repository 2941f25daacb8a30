package decide

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// Bill sources of TariffAdvice.CurrentBillSource, and the attributes read
// for the current bill when the profile names no known plan, in order.
const sourcePlan = "plan"

var billAttributes = []string{"monthlyCharge", "arpu", "monthlySpend"}

// Bill is the monthly bill of usage under plan p, in yuan rounded to 0.01:
// the fee plus each allowance's overage (usage beyond it times its price).
func Bill(p *protocol.Plan, u api.TariffUsage) float64 {
	over := func(used, included, price float64) float64 {
		return math.Max(0, used-finiteNonNeg(included, 0)) * finiteNonNeg(price, 0)
	}
	return round2(finiteNonNeg(p.MonthlyFee, 0) +
		over(u.VoiceMinutes, p.VoiceMinutes, p.VoiceOverage) +
		over(u.DataMB, p.DataMB, p.DataOverage) +
		over(u.SMS, p.SMS, p.SMSOverage))
}

func round2(x float64) float64 { return finite(math.Round(x*100) / 100) }

// number reads a numeric attribute (float64, or an integer type from a
// caller that built the profile in code); NaN and infinities are absent.
func number(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// usageAttributes are the profile attributes re-rated, in TariffUsage's
// order.
var usageAttributes = [...]string{"voiceMinutes", "dataMB", "sms"}

// usage reads one month's usage attribute: a missing one is 0 (nothing
// recorded), one that is no finite number ≥ 0 is unusable (ok false).
func usage(m map[string]any, k string) (float64, bool) {
	v, present := m[k]
	if !present || v == nil {
		return 0, true
	}
	f, ok := number(v)
	return f, ok && f >= 0
}

// tariff re-rates the customer's usage under every plan (retired ones too,
// for the customer who is still on one) and finds the current bill: the
// customer's plan (attribute plan or planId) re-rated, else the first of
// monthlyCharge, arpu, monthlySpend the profile has, else unknown.
//
// A usage attribute that is there but no number ≥ 0 (text such as
// "420 min", a negative count) makes every bill unknown: the advice names
// the attribute (UsageError) and lists no plan, and every tariff offer is
// suppressed saying why, rather than billing the month as if it were 0.
func (e *Engine) tariff(s *scratch, adv *api.TariffAdvice) {
	var vals [len(usageAttributes)]float64
	s.badUsage = -1
	for i, k := range usageAttributes {
		var ok bool
		if vals[i], ok = usage(s.profile, k); !ok && s.badUsage < 0 {
			s.badUsage = i
		}
	}
	u := api.TariffUsage{VoiceMinutes: vals[0], DataMB: vals[1], SMS: vals[2]}
	bill, plans := adv.CurrentBill, adv.Plans
	*adv = api.TariffAdvice{Usage: u}
	s.curKnown, s.curPlan, s.cur = false, -1, 0
	if s.badUsage >= 0 {
		k := usageAttributes[s.badUsage]
		adv.UsageError = fmt.Sprintf(msgUsageUnusable, k, clip(fmt.Sprint(s.profile[k]), 40))
		adv.Plans = resize(plans, 0)
		return
	}
	for i := range e.plans {
		s.bills[i] = Bill(&e.plans[i].p, u)
	}
	for _, k := range []string{"plan", "planId"} {
		if id, ok := s.profile[k].(string); ok {
			if pi, ok := e.planByID[id]; ok {
				s.curKnown, s.curPlan, s.cur = true, pi, s.bills[pi]
				adv.CurrentPlanID, adv.CurrentBillSource = id, sourcePlan
				break
			}
		}
	}
	if !s.curKnown {
		for _, k := range billAttributes {
			if v, ok := number(s.profile[k]); ok {
				s.curKnown, s.cur = true, round2(v)
				adv.CurrentBillSource = k
				break
			}
		}
	}
	s.order = append(s.order[:0], e.active...)
	if s.curPlan >= 0 && !e.plans[s.curPlan].active {
		s.order = append(s.order, s.curPlan) // the customer's own retired plan, to show its bill
	}
	slices.SortFunc(s.order, func(a, b int) int {
		return cmp.Or(cmp.Compare(s.bills[a], s.bills[b]), cmp.Compare(a, b))
	})
	adv.Plans = resize(plans, len(s.order))
	if s.curKnown {
		if bill == nil {
			bill = new(float64)
		}
		*bill = s.cur
		adv.CurrentBill = bill
	}
	var savings []float64 // one array for every plan's saving, when none can be reused
	for i, pi := range s.order {
		pl := &e.plans[pi].p
		saving := adv.Plans[i].Saving
		adv.Plans[i] = api.PlanBill{PlanID: pl.ID, Name: pl.Name, Bill: s.bills[pi], Current: pi == s.curPlan}
		if !s.curKnown {
			continue
		}
		if saving == nil {
			if savings == nil {
				savings = make([]float64, len(s.order))
			}
			saving = &savings[i]
		}
		*saving = round2(s.cur - s.bills[pi])
		adv.Plans[i].Saving = saving
	}
}

// saving is a tariff offer's monthly saving, or the code that suppresses
// it, with its reason appended to the decision's text: its plan is
// missing or retired (the reason was built at Compile), the current bill is
// unknown (no saving can be shown, so the offer is not made), the customer
// is already on the plan, or the plan does not bill less.
func (e *Engine) saving(s *scratch, o *offerC) (float64, code, reason) {
	if o.reasonPlan != noReason {
		return 0, codePlanUnavailable, o.reasonPlan
	}
	start := len(s.arena)
	if s.badUsage >= 0 {
		s.arena = appendf(s.arena, msgNoUsage, text(o.o.PlanID), text(usageAttributes[s.badUsage]))
		return 0, codeNoSaving, s.since(start)
	}
	bill := s.bills[o.plan]
	switch {
	case !s.curKnown:
		s.arena = appendf(s.arena, msgBillUnknown, text(o.o.PlanID), yuan(bill))
		return 0, codeNoSaving, s.since(start)
	case s.curPlan == o.plan:
		s.arena = appendf(s.arena, msgAlreadyOnPlan, text(o.o.PlanID), yuan(bill))
		return 0, codeNoSaving, s.since(start)
	}
	saving := round2(s.cur - bill)
	if saving <= 0 {
		s.arena = appendf(s.arena, msgSameBill, yuan(s.cur), yuan(bill), text(o.o.PlanID))
		return 0, codeNoSaving, s.since(start)
	}
	return saving, 0, noReason
}

// clip shortens s to at most n runes, marking the cut with "…".
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
