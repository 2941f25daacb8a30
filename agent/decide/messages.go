package decide

import (
	"strconv"
	"strings"
)

// The reasons a decision gives, in one place so that they can be
// translated (DESIGN.md: Simplified Chinese as well as English). Codes, not
// reasons, are the contract; clients branch on codes. Most reasons are
// built once, in Compile; the few that quote the customer's own figures
// are built only for the offers they suppress.
const (
	msgNoCampaign       = "offer %s is in no campaign"
	msgCampaignInactive = "campaign %s is %s"
	msgCampaignStarts   = "campaign %s runs from %s"
	msgCampaignEnds     = "campaign %s ended at %s"
	msgCampaignWindow   = "campaign %s runs from %s until %s"
	msgCampaignBadTime  = "campaign %s has a schedule that does not parse (%v): not run"
	msgCampaignChannel  = "campaign %s runs on %s only"
	msgOfferChannel     = "offer %s is for %s only"
	msgValidFrom        = "offer %s is valid from %s"
	msgValidUntil       = "offer %s was valid until %s"
	msgValidWindow      = "offer %s is valid from %s until %s"
	msgValidBad         = "offer %s has a validity that does not parse (%v): not offered"
	msgRuleFalse        = "%s rule %s is false"
	msgRuleMissing      = "%s rule %s reads %s.%s, which the %s does not have"
	msgRuleBroken       = "%s rule %s does not compile on the agent: %v"
	msgRuleFailed       = "%s rule %s failed: "
	msgRuleNotBool      = "returned %T, not a boolean"
	msgSegment          = "segment"
	msgDoNotDisturb     = "the customer asked not to be contacted (do not disturb); no offer is presented, transactional ones included"
	msgContactCap       = "contact cap: policy %q allows %d %s per %s on %s; customer had %d"
	msgContactCapHeld   = " (%d %s as a campaign's control group: holdouts count as the offer they stand for)"
	msgContact          = "contact"
	msgContacts         = "contacts"
	msgContactCapZero   = "contact cap: policy %q allows no marketing contact on %s (maxContacts 0)"
	msgAllChannels      = "all channels"
	msgQuietHours       = "quiet hours: policy %q allows no marketing contact from %s to %s (%s); it is %s there"
	msgNoConsent        = "consent: policy %q requires the customer's consent for %s (or all channels), which the profile does not give"
	msgPolicyWindow     = "policy %q cannot be applied: %v; no marketing contact until it is fixed"
	msgPolicyZone       = "policy %q cannot be applied: time zone %q: %v; no marketing contact until it is fixed"
	msgPolicyHours      = "policy %q cannot be applied: quiet hours %q to %q do not parse; no marketing contact until it is fixed"
	msgDeclined         = "the customer declined offer %s %d times within %d days (last on %s); paused for %d days, until %s"
	msgVolumeCap        = "offer %s reached its volume cap: presented %d times, cap %d"
	msgPlanMissing      = "tariff offer %s names plan %q, which the agent's catalogue does not hold"
	msgPlanRetired      = "tariff offer %s names plan %q, which is retired"
	msgNoPlan           = "tariff offer %s names no plan"
	msgSameBill         = "no saving: the customer's bill is %s yuan now and would be %s yuan on %s"
	msgAlreadyOnPlan    = "no saving: the customer is already on %s (bill %s yuan)"
	msgNoUsage          = "no saving can be shown: %s cannot be billed, the profile's %s is not a monthly usage (a number ≥ 0)"
	msgUsageUnusable    = "%s is not a monthly usage (a number ≥ 0): %s; no plan is billed"
	msgBillUnknown      = "no saving can be shown: the customer's current bill is unknown (no plan, monthlyCharge, arpu or monthlySpend in the profile); %s would bill %s yuan"
	msgHeldOut          = "held out: the customer is in the control group of every campaign that would present it"
	msgRankOffer        = "%s offer worth %s yuan"
	msgRankTariff       = "tariff offer saving %s yuan a month (%s yuan now, %s on %s)"
	msgRankPropensity   = ", propensity %s"
	msgRankPrior        = " (prior)"
	msgRankModel        = " (model)"
	msgRankLearned      = " (learned from %s contacts)"
	msgRankDrawn        = " (Thompson draw, %s contacts so far)"
	msgRankCampaign     = ", ×%s for campaign %s"
	msgRankLever        = ", lever ×%s"
	msgProfile          = "profile"
	msgCustomerProfile  = "customer's profile"
	msgContext          = "context"
	msgRequestContext   = "request's context"
)

// quoteRule quotes a rule's text for a reason, shortened to keep reasons
// readable.
func quoteRule(src string) string {
	const max = 200
	if len(src) > max {
		cut := max
		for cut > 0 && !isRuneStart(src[cut]) {
			cut--
		}
		src = src[:cut] + "…"
	}
	return strconv.Quote(src)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// firstLine keeps the first line of an expr error (the rest repeats the
// source with a caret) and bounds its length.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > maxReasonError {
		cut := maxReasonError
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func money(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }

// textArg is an argument of appendf: a string, an amount in yuan, an
// estimate or a count.
type textArg struct {
	s        string
	x        float64
	money    bool
	estimate bool
	n        int64
	count    bool
}

func text(s string) textArg  { return textArg{s: s} }
func yuan(x float64) textArg { return textArg{x: x, money: true} }
func count(n int64) textArg  { return textArg{n: n, count: true} }

// estimate is a number computed per decision (a learned or drawn
// propensity, a model's score) for a reason: four significant digits, as
// a person reads it (0.3127, 2.162e-05); the answer's fields keep every
// digit. Numbers from the catalogue are shown as written (formatFactor).
func estimate(x float64) textArg { return textArg{x: x, estimate: true} }

// appendf appends format with each %s replaced by the next argument,
// without fmt: the reasons built per decision go through it into the
// decision's one text buffer.
func appendf(b []byte, format string, args ...textArg) []byte {
	for len(format) > 0 {
		i := strings.Index(format, "%s")
		if i < 0 || len(args) == 0 {
			return append(b, format...)
		}
		b = append(b, format[:i]...)
		if a := args[0]; a.money {
			b = strconv.AppendFloat(b, a.x, 'f', 2, 64)
		} else if a.estimate {
			b = strconv.AppendFloat(b, a.x, 'g', 4, 64)
		} else if a.count {
			b = strconv.AppendInt(b, a.n, 10)
		} else {
			b = append(b, a.s...)
		}
		args, format = args[1:], format[i+2:]
	}
	return b
}
