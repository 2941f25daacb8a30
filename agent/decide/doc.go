// Package decide is the agent's pure decision engine: given the catalogue
// the agent holds, a customer's profile and contact history, a channel, an
// intent and the time, it answers which offers to present, best first, and
// why every other offer is not presented. It does no I/O, reads no clock,
// draws no random numbers and logs nothing; the agent daemon feeds it and
// records contacts. DESIGN.md beside this file has the data flow and the
// failure modes.
//
// Compile turns one catalogue version into an Engine (rules compiled once
// per distinct text, times parsed, time zones loaded, reasons built);
// Engine.Decide is then safe for concurrent use and allocates little but
// its answer. Engine.DecideInto writes the answer into a Decision the
// caller reuses (a pool of them in the daemon), and then allocates almost
// nothing.
//
// # Candidates
//
// Every offer of the catalogue ends up in exactly one place of the
// decision: Offers (ranked), Suppressed (with a code and a reason) or
// Holdout. The filters run in this order and the first that fails is the
// offer's code:
//
//  1. do_not_disturb: the profile's doNotDisturb stops every offer,
//     transactional ones included.
//  2. The offer's campaigns: no_campaign when none lists it. A campaign
//     may present its offers when its status is empty or "active"
//     (campaign_inactive), now is within [startAt, endAt] (outside_schedule;
//     both bounds inclusive, either may be empty), its channels are empty
//     or include the request channel (wrong_channel), and its segment rule
//     holds (not_in_segment). When no campaign of the offer may, the offer
//     gets the code of the campaign that got furthest through these checks
//     (ties: the lowest campaign id).
//  3. wrong_channel: the offer's own channels (empty = all).
//  4. outside_validity: now is within [validFrom, validUntil], inclusive.
//  5. Rules: eligibility (not_eligible), applicability (not_applicable),
//     suitability (not_suitable); rule_error when a rule does not compile on
//     the agent or fails while it runs.
//  6. Contact policy (not for transactional offers): policy_error,
//     no_consent, contact_cap, quiet_hours; see below.
//  7. declined_recently: the offer's suppression pause is running.
//  8. volume_cap: OfferVolume[offer] ≥ volumeCap (a nil map reaches no cap).
//  9. Tariff offers: plan_unavailable (no plan, unknown or retired plan) or
//     no_saving (see Tariff advice).
//  10. Control group: when every campaign that would present the offer
//     holds the customer out, the offer is listed under each of those
//     campaigns in Holdout instead.
//
// An offer in several campaigns appears once: under the campaign, among
// those that may present it and do not hold the customer out, with the
// highest business weight (ties: the lowest campaign id).
//
// # Rules
//
// Rules are expr-lang/expr boolean expressions, compiled with the control
// plane's options and limits (MaxRuleLength, MaxRuleNodes). They see
// profile (the profile's attributes and derived fields, derived winning,
// plus id, region when set and doNotDisturb), context (the request's
// context plus channel and intent) and now (Input.Now). A rule that reads
// profile.x or context.x with a constant name the customer or request does
// not have (absent or null) is false, with a reason naming the attribute,
// without being run — unless the rule handles the absence itself: it
// compares that name with nil, puts it on the left of ??, or reads it with
// ?. (for example `profile.churnRisk ?? 0 > 0.5`). A rule is evaluated once
// per decision however many offers share its text.
//
// The agent runs rules in a sandbox: closures may iterate MaxRuleSteps
// times per evaluation, expr's memory budget is MaxRuleMemory, strings
// built with +, repeat, replace and join are capped at MaxRuleString, and
// the builtins that would read the clock or the time-zone database at
// decision time are replaced: now() is not available (now is the decision
// time), and timezone() and date() with a zone name take constant zone
// names, loaded once in Compile. A rule that breaks these limits filters
// its offer with rule_error; it never fails the decision.
//
// # Contact policy
//
// The policies that apply are those whose channel is the request channel
// or "all". A contact is any Contact at or before now, of any type and any
// outcome, holdouts included (issue 4: "only POST /v1/contacts (and
// holdouts) count toward caps": a held-out customer takes the slot the
// treated one uses, so the control group is not contacted more by other
// campaigns than the treatment group); a policy
// counts those in [now−window, now] on its channel, or on every channel for
// "all", and forbids marketing contact when the count is at least
// maxContacts. maxContacts 0 therefore allows no marketing contact on that
// channel at all (a policy that meant "no cap" would not exist). Quiet
// hours [start, end) are wall-clock times in the policy's zone (default
// Asia/Shanghai); an end not after the start crosses midnight, and start
// equal to end is no quiet time. requireConsent needs Consents[channel] or
// Consents["all"] true. A policy that cannot be applied (its window or
// hours do not parse, its zone does not load) fails closed: policy_error,
// no marketing contact. Transactional offers skip contact policies, never
// do-not-disturb; suppression after declines and volume caps still apply
// to them.
//
// Suppression: once the customer has declined the offer `declines` times
// within `days` days (days are 24 hours), it is not presented for
// `pauseDays` days after the last of those declines.
//
// # Arbitration
//
// score = propensity × value × weight, weight = contextWeight ×
// leverWeight. propensity is Input.Propensities[offer] when given (clamped
// to [0, 1]), else the offer's prior (EffectivePropensity); value is the
// offer's value, or a tariff offer's monthly saving; leverWeight is
// EffectiveLeverWeight; contextWeight is the campaign's business weight (0
// means 1) times the Weights of the request's intent and of the customer's
// churnLevel for the offer's category (DefaultWeights, or WithWeights). Offers rank by score, highest first, ties by offer id;
// rank 1 is the best. Each ranked offer's reason names its factors.
//
// # Churn score
//
// When Catalog.Churn holds the active churn model, every decision scores
// its customer with it over the profile as rules see it (attributes, then
// derived fields, then id, region, doNotDisturb: protocol.ScoringAttributes).
// The probability and its warning level replace the profile's derived
// churnRisk and churnLevel for the whole decision — the answer (which also
// names churnModel and churnModelVersion), the rules' profile.churnRisk and
// profile.churnLevel, and the churnLevel weights above. Without a model
// the derived fields are used. See docs/MODELS.md.
//
// # Tariff advice
//
// The customer's monthly usage (attributes voiceMinutes, dataMB, sms;
// missing counts 0) is billed under every plan: monthlyFee plus, for voice,
// data and SMS, max(0, usage − allowance) × overage price, rounded to
// 0.01 yuan. The current bill is the bill of the plan named by attribute
// plan (or planId) when the catalogue holds it, else the first of
// monthlyCharge, arpu, monthlySpend, else unknown. A tariff offer is a
// candidate only when its plan's bill is lower than the current bill; its
// value is then the saving (current − bill). When the current bill is
// unknown no saving can be shown, and the offer is suppressed (no_saving):
// the engine does not propose a plan change it cannot justify. The
// decision's tariff block lists every active plan's bill, cheapest first.
//
// # Control group
//
// A customer is held out of a campaign when ControlBucket(customer,
// campaign) — FNV-1a 64 of the customer id, a zero byte and the campaign
// id, finalised with MurmurHash3's fmix64 and mapped to [0, 100) — is
// below controlGroupPercent. Every agent agrees; 0 holds nobody out and
// 100 everybody.
package decide
