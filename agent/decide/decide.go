package decide

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// Contact is one earlier contact with the customer: the control plane's
// committed history or one of the agent's own events not yet acknowledged.
type Contact struct {
	Time       time.Time
	Channel    string
	Type       string
	Outcome    string
	OfferID    string
	CampaignID string

	// answers is set by the engine on the outcome of an offer presented
	// on the same channel within responseWindow before it, to that
	// presentation's time: caps count the two as one contact.
	answers time.Time
}

// responseWindow is how long after a presentation an accepted, declined
// or ignored contact of the same offer on the same channel is its outcome
// (a kiosk or IVR client logs presented, then the customer's answer).
const responseWindow = time.Hour

// Input is everything one decision depends on. The engine reads no clock
// and draws no random numbers: Now is the decision time.
type Input struct {
	DecisionID string
	CustomerID string
	Channel    string
	Intent     string
	// Context is the request's context; rules see it as context.<key>,
	// with context.channel and context.intent set from Channel and Intent.
	Context map[string]any
	Now     time.Time
	// Profile is the customer's cached profile. The caller answers an
	// unknown customer itself; a nil Profile is decided as an empty one.
	Profile *protocol.Profile
	// Contacts is the customer's contact history in any order; an event
	// given twice (once committed, once from the outbox) is counted once.
	Contacts []Contact
	// OfferVolume is how often each offer was presented so far, for
	// volumeCap; nil means unknown, and no cap is reached.
	OfferVolume map[string]int64
	// Propensities are acceptance probabilities per offer id that take
	// precedence over everything; an offer without one uses the
	// catalogue's learned table (Catalog.Propensities), else its prior
	// (offer.propensity, default 0.1).
	Propensities map[string]float64
	// Rand draws the Thompson samples of learned propensities with few
	// contacts; nil uses their posterior means.
	Rand *rand.Rand
}

// Rule evaluation states, memoised per rule per decision.
const (
	stUnknown uint8 = iota
	stTrue
	stFalse
	stMissing
	stError
)

type ruleResult struct {
	state   uint8
	missing int
	err     error
}

// campState is a campaign's verdict for this decision, computed when an
// offer first asks.
type campState struct {
	done   bool
	pass   bool
	stage  int8 // how far a failing campaign got: 1 status, 2 schedule, 3 channel, 4 segment
	held   int8 // 0 not asked, 1 held out, 2 not held out
	code   code
	reason reason
}

type candidate struct {
	offer    int
	campaign int
	score    float64
	prop     float64
	model    bool  // the propensity is not the prior: the reason is built per decision
	src      uint8 // where the propensity came from (learned.go)
	n        int64 // a learned propensity's counted contacts
	value    float64
	ctxW     float64
}

// rankKey is what ranking sorts: small, so that sorting moves little.
type rankKey struct {
	score float64
	offer int32 // offers are sorted by id: ties break by id
	cand  int32 // index into ranked
}

type holdEntry struct{ campaign, offer int }

// textRef is a ranked reason written into the decision's text buffer.
type textRef struct {
	idx        int
	start, end int
}

type marketing struct {
	done   bool
	code   code // 0: marketing contact is allowed
	reason reason
}

// suppEntry is a suppressed offer while the decision is made: indexes and
// a reason reference, no pointers (Suppressed is built from them at the
// end).
type suppEntry struct {
	offer    int32
	campaign int32 // -1: the reason is not a campaign's
	code     code
	reason   reason
}

// scratch is one decision's working memory, pooled so that a decision
// allocates little beyond its answer.
type scratch struct {
	profile map[string]any
	context map[string]any
	env     map[string]any
	vals    []any // the flat values: vals[i] is e.flat[i]'s value, nil when absent
	vm      vm.VM
	budget  budget

	rules    []ruleResult
	camps    []campState
	contacts []Contact
	declines []time.Time
	passing  []int
	ranked   []candidate
	keys     []rankKey
	keysTmp  []rankKey // sortKeys' merge buffer
	supp     []suppEntry
	hold     []holdEntry
	bills    []float64
	order    []int
	arena    []byte // the reasons built for this decision, as one string at the end
	refs     []textRef

	in        *Input
	p         *protocol.Profile
	customer  string
	ch        int
	now       time.Time
	intentRow factorRow
	churnRow  factorRow
	risk      float64 // the live churn score, when scored
	scored    bool
	arms      []learnedArm // the customer's segment's learned propensities
	level     string
	mkt       marketing
	cur       float64 // current bill
	curKnown  bool
	curPlan   int
	badUsage  int // index in usageAttributes of an unusable usage attribute, -1 if none
}

func (e *Engine) newScratch() *scratch {
	s := &scratch{
		profile: map[string]any{},
		context: map[string]any{},
		rules:   make([]ruleResult, len(e.rules)),
		vals:    make([]any, len(e.flat)),
		camps:   make([]campState, len(e.campaigns)),
		bills:   make([]float64, len(e.plans)),
	}
	s.vm.MemoryBudget = MaxRuleMemory
	s.env = map[string]any{"profile": s.profile, "context": s.context, "now": time.Time{}, budgetVar: &s.budget}
	return s
}

// release forgets the customer (no profile data stays in the pool) and
// returns s to the pool.
func (e *Engine) release(s *scratch) {
	clear(s.profile)
	clear(s.context)
	s.env["now"] = nil
	for _, n := range e.flat {
		s.env[n.name] = nil
	}
	clear(s.vals)
	clear(s.vm.Stack[:cap(s.vm.Stack)])
	clear(s.vm.Variables)
	clear(s.rules)
	clear(s.camps)
	clear(s.contacts)
	s.contacts = s.contacts[:0]
	s.supp = s.supp[:0]
	s.ranked, s.keys, s.hold, s.passing, s.declines = s.ranked[:0], s.keys[:0], s.hold[:0], s.passing[:0], s.declines[:0]
	s.arena, s.refs = s.arena[:0], s.refs[:0]
	s.in, s.p, s.mkt = nil, nil, marketing{}
	s.risk, s.scored, s.level, s.arms = 0, false, "", nil
	e.scratch.Put(s)
}

// Decide answers what to offer the customer now, on in.Channel: the
// ranked offers, the suppressed ones with a code and a reason each, the
// control-group holdouts and the tariff advice. It never fails and never
// panics on a catalogue Compile accepted (every catalogue): a rule or a
// policy that cannot be applied filters the offers it touches, with a
// reason. It records nothing: a decision is not a contact.
func (e *Engine) Decide(in Input) api.Decision {
	var d api.Decision
	e.DecideInto(&d, in)
	return d
}

// DecideInto is Decide writing its answer into d, reusing the memory of
// the lists (and pointers) d already holds: a caller that keeps a pool of
// Decisions, and is done with one (its JSON written) before reusing it,
// decides without allocating its answers. Every field of d is
// overwritten.
func (e *Engine) DecideInto(d *api.Decision, in Input) {
	s := e.scratch.Get().(*scratch)
	defer e.release(s)
	p := in.Profile
	if p == nil {
		p = &protocol.Profile{ID: in.CustomerID}
	}
	s.begin(e, &in, p)

	risk, tariff := d.ChurnRisk, d.Tariff
	*d = api.Decision{
		DecisionID:  in.DecisionID,
		CustomerID:  s.customer,
		Channel:     in.Channel,
		Intent:      in.Intent,
		ConfigIndex: e.index,
		Time:        in.Now,
		Offers:      d.Offers[:0],
		Suppressed:  d.Suppressed[:0],
		Holdout:     d.Holdout[:0],
	}
	v, ok := number(p.Derived["churnRisk"])
	if s.scored {
		v, ok = s.risk, true
		d.ChurnModel, d.ChurnModelVersion = e.model.ID, e.model.Version
	}
	if ok {
		if risk == nil {
			risk = new(float64)
		}
		*risk = v
		d.ChurnRisk = risk
	}
	d.ChurnLevel = s.level
	d.Segment, _ = p.Derived["segment"].(string)
	if len(e.plans) > 0 {
		if tariff == nil {
			tariff = &api.TariffAdvice{}
		}
		e.tariff(s, tariff)
		d.Tariff = tariff
	}
	for oi := range e.offers {
		e.consider(s, oi)
	}
	e.finish(s, d)
}

// resize returns a slice of n elements, reusing s's array when it is large
// enough; the elements are to be overwritten.
func resize[T any](s []T, n int) []T {
	if s != nil && cap(s) >= n {
		return s[:n]
	}
	return make([]T, n) // never nil: an empty list is [] in JSON
}

func (s *scratch) begin(e *Engine, in *Input, p *protocol.Profile) {
	s.in, s.p = in, p
	s.customer = cmp.Or(in.CustomerID, p.ID)
	s.ch = channelIndex(in.Channel)
	s.now = in.Now
	for k, v := range p.Attributes {
		s.profile[k] = v
	}
	for k, v := range p.Derived {
		s.profile[k] = v
	}
	s.profile["id"] = p.ID
	if p.Region != "" {
		s.profile["region"] = p.Region
	}
	s.profile["doNotDisturb"] = p.DoNotDisturb
	// The live churn score: the model sees the profile as rules do
	// (protocol.ScoringAttributes), and its answer overrides the derived
	// churnRisk and churnLevel the control plane may have set.
	s.level, _ = p.Derived["churnLevel"].(string)
	if e.model != nil {
		s.risk = e.model.Model.Score(s.profile)
		s.scored = !math.IsNaN(s.risk)
		if s.scored {
			s.level = e.levels.Level(s.risk)
			s.profile["churnRisk"] = s.risk
			s.profile["churnLevel"] = e.box(s.level)
		}
	}
	s.arms = e.learnedArms(p)
	for k, v := range in.Context {
		s.context[k] = v
	}
	s.context["channel"] = e.box(in.Channel)
	s.context["intent"] = e.box(in.Intent)
	if e.zone != nil {
		s.env["now"] = in.Now.In(e.zone)
	} else {
		s.env["now"] = in.Now
	}
	for i, n := range e.flat {
		m := s.profile
		if n.context {
			m = s.context
		}
		v := m[n.key]
		s.vals[i] = v
		s.env[n.name] = v
	}

	s.intentRow = e.intent[in.Intent]
	s.churnRow = e.churn[s.level]

	// The history that can matter, once, sorted by time, duplicates
	// dropped (the caller may pass an event both as committed and as
	// not yet acknowledged).
	oldest := s.now.Add(-e.lookback) // saturates for a huge lookback
	for _, c := range in.Contacts {
		if !c.Time.After(s.now) && !c.Time.Before(oldest) {
			s.contacts = append(s.contacts, c)
		}
	}
	if len(s.contacts) > 1 {
		slices.SortFunc(s.contacts, compareContacts)
		s.contacts = slices.CompactFunc(s.contacts, func(a, b Contact) bool { return compareContacts(a, b) == 0 })
		markResponses(s.contacts)
	}
}

// markResponses marks, in a history sorted by time, the outcomes that
// answer an earlier presentation (responseWindow): a presented contact
// and the customer's answer to it are one contact for the caps.
func markResponses(cs []Contact) {
	for i := range cs {
		c := &cs[i]
		c.answers = time.Time{}
		if c.OfferID == "" || (c.Outcome != protocol.OutcomeAccepted && c.Outcome != protocol.OutcomeDeclined && c.Outcome != protocol.OutcomeIgnored) {
			continue
		}
		from := c.Time.Add(-responseWindow)
		for j := i - 1; j >= 0 && !cs[j].Time.Before(from); j-- {
			if p := &cs[j]; p.Outcome == protocol.OutcomePresented && p.OfferID == c.OfferID && p.Channel == c.Channel {
				c.answers = p.Time
				break
			}
		}
	}
}

func compareContacts(a, b Contact) int {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	return cmp.Or(
		strings.Compare(a.Channel, b.Channel),
		strings.Compare(a.Type, b.Type),
		strings.Compare(a.Outcome, b.Outcome),
		strings.Compare(a.OfferID, b.OfferID),
		strings.Compare(a.CampaignID, b.CampaignID),
	)
}

func (s *scratch) suppress(oi, campaign int, c code, r reason) {
	s.supp = append(s.supp, suppEntry{offer: int32(oi), campaign: int32(campaign), code: c, reason: r})
}

// since is the reason written into the text buffer from start on.
func (s *scratch) since(start int) reason {
	return reason{id: -1, start: int32(start), end: int32(len(s.arena))}
}

// consider runs one offer through the filters, in the documented order;
// the first that fails is the offer's reason.
func (e *Engine) consider(s *scratch, oi int) {
	o := &e.offers[oi]
	if s.p.DoNotDisturb {
		s.suppress(oi, -1, codeDoNotDisturb, reasonDoNotDisturb)
		return
	}
	if len(o.campaigns) == 0 {
		s.suppress(oi, -1, codeNoCampaign, o.reasonNoCampaign)
		return
	}
	s.passing = s.passing[:0]
	fail, failStage := -1, int8(-1)
	for _, ci := range o.campaigns {
		st := e.campaign(s, ci)
		if st.pass {
			s.passing = append(s.passing, ci)
		} else if st.stage > failStage {
			fail, failStage = ci, st.stage
		}
	}
	if len(s.passing) == 0 {
		st := &s.camps[fail]
		s.suppress(oi, fail, st.code, st.reason)
		return
	}
	if !o.channels.has(s.ch) {
		s.suppress(oi, -1, codeWrongChannel, o.reasonChannel)
		return
	}
	if o.validBad || (!o.from.IsZero() && s.now.Before(o.from)) || (!o.until.IsZero() && s.now.After(o.until)) {
		s.suppress(oi, -1, codeOutsideValidity, o.reasonValidity)
		return
	}
	for i := range o.rules {
		if ok, c, r := e.check(s, &o.rules[i]); !ok {
			s.suppress(oi, -1, c, r)
			return
		}
	}
	if !o.transactional {
		if m := e.marketing(s); m.code != 0 {
			s.suppress(oi, -1, m.code, m.reason)
			return
		}
	}
	if r, ok := e.declined(s, o); ok {
		s.suppress(oi, -1, codeDeclinedRecently, r)
		return
	}
	if r, ok := e.volumeCapped(s, o); ok {
		s.suppress(oi, -1, codeVolumeCap, r)
		return
	}
	value := o.value
	if o.tariff {
		saving, c, r := e.saving(s, o)
		if c != 0 {
			s.suppress(oi, -1, c, r)
			return
		}
		value = saving
	}

	// The control group comes last, so that a holdout lists exactly the
	// offers the customer would otherwise have been shown.
	best := -1
	for _, ci := range s.passing {
		if e.heldOut(s, ci) {
			continue
		}
		if best < 0 || e.campaigns[ci].weight > e.campaigns[best].weight {
			best = ci
		}
	}
	if best < 0 {
		for _, ci := range s.passing {
			s.hold = append(s.hold, holdEntry{campaign: ci, offer: oi})
		}
		return
	}

	prop, src, n := o.prior, propPrior, int64(0)
	if s.in.Propensities != nil {
		if v, ok := s.in.Propensities[o.o.ID]; ok && !math.IsNaN(v) {
			prop, src = clampPropensity(v, o.prior), propInput
		}
	}
	if src == propPrior && s.arms != nil {
		prop, src, n = learnedPropensity(s.arms, oi, s.in.Rand)
	}
	ctxW := e.campaigns[best].weight * s.intentRow.weight(o.cat) * s.churnRow.weight(o.cat)
	score := finite(prop * value * ctxW * o.lever)
	s.keys = append(s.keys, rankKey{score: score, offer: int32(oi), cand: int32(len(s.ranked))})
	s.ranked = append(s.ranked, candidate{
		offer:    oi,
		campaign: best,
		score:    score,
		prop:     prop,
		model:    src != propPrior,
		src:      src,
		n:        n,
		value:    value,
		ctxW:     finite(ctxW),
	})
}

func (r factorRow) weight(cat int) float64 {
	if r.w == nil {
		return 1
	}
	return r.w[cat]
}

func (r factorRow) why(cat int) string {
	if r.reason == nil {
		return ""
	}
	return r.reason[cat]
}

// finite keeps a product JSON-encodable: NaN becomes 0, an overflow the
// largest float.
// tidy rounds a product of factors to nine decimals for the answer, so
// that 3.6 × 1 prints 3.6, not 3.5999999999999996 (the ranking is done
// before, on the product itself). Products under 0.001 or over 1e9 are
// left as they are: nine decimals would lose them or gain nothing.
func tidy(x float64) float64 {
	if a := math.Abs(x); a >= 1e-3 && a < 1e9 {
		return math.Round(x*1e9) / 1e9
	}
	return x
}

func finite(x float64) float64 {
	switch {
	case math.IsNaN(x):
		return 0
	case math.IsInf(x, 1):
		return math.MaxFloat64
	case math.IsInf(x, -1):
		return -math.MaxFloat64
	}
	return x
}

// campaign decides, once per decision, whether campaign ci may present
// its offers now on this channel to this customer.
func (e *Engine) campaign(s *scratch, ci int) *campState {
	st := &s.camps[ci]
	if st.done {
		return st
	}
	st.done = true
	c := &e.campaigns[ci]
	switch {
	case c.inactive:
		st.stage, st.code, st.reason = 1, codeCampaignInactive, c.reasonInactive
	case c.schedBad || (!c.start.IsZero() && s.now.Before(c.start)) || (!c.end.IsZero() && s.now.After(c.end)):
		st.stage, st.code, st.reason = 2, codeOutsideSchedule, c.reasonSchedule
	case !c.channels.has(s.ch):
		st.stage, st.code, st.reason = 3, codeWrongChannel, c.reasonChannel
	default:
		if ok, code, r := e.check(s, &c.segment); !ok {
			st.stage, st.code, st.reason = 4, code, r
		} else {
			st.pass = true
		}
	}
	return st
}

func (e *Engine) heldOut(s *scratch, ci int) bool {
	st := &s.camps[ci]
	if st.held == 0 {
		st.held = 2
		if InControlGroup(s.customer, e.campaigns[ci].c.ID, e.campaigns[ci].control) {
			st.held = 1
		}
	}
	return st.held == 1
}

// check evaluates a slot's rule: true, or false with the code and reason.
func (e *Engine) check(s *scratch, sl *slot) (bool, code, reason) {
	if sl.r == nil {
		return true, 0, noReason
	}
	if sl.r.err != nil {
		return false, codeRuleError, sl.brokenWhy
	}
	res := e.eval(s, sl.r)
	switch res.state {
	case stTrue:
		return true, 0, noReason
	case stMissing:
		return false, sl.code, sl.missing[res.missing]
	case stError:
		start := len(s.arena)
		s.arena = append(s.arena, sl.errPrefix...)
		s.arena = append(s.arena, firstLine(res.err.Error())...)
		return false, codeRuleError, s.since(start)
	}
	return false, sl.code, sl.falseReason
}

// before reports whether a ranks before b: higher score, then lower
// offer index (offers are sorted by id: ties rank by id).
func (a rankKey) before(b rankKey) bool {
	return a.score > b.score || (a.score == b.score && a.offer < b.offer)
}

// sortKeys ranks the candidates. Up to mergeAbove of them, an insertion
// sort with the comparison inlined, which beats a general sort at the
// fifty-odd candidates a decision has. Beyond, runs of eight sorted so,
// then merged pairwise through tmp (grown if short, and returned) without
// a branch on the comparison, whose outcome the core cannot predict: at
// 130 candidates 5.0-5.2 µs against 7.3-8.5 µs for slices.SortFunc, a
// tie at 54 (docs/PERFORMANCE.md).
func sortKeys(keys, tmp []rankKey) []rankKey {
	if len(keys) <= mergeAbove {
		insertionSortKeys(keys)
		return tmp
	}
	const run = 8
	n := len(keys)
	for lo := 0; lo < n; lo += run {
		insertionSortKeys(keys[lo:min(lo+run, n)])
	}
	tmp = resize(tmp, n)
	src, dst := keys, tmp
	for width := run; width < n; width *= 2 {
		for lo := 0; lo < n; lo += 2 * width {
			mid, hi := min(lo+width, n), min(lo+2*width, n)
			mergeKeys(dst[lo:hi], src[lo:mid], src[mid:hi])
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
	return tmp
}

// mergeAbove is the number of candidates above which sortKeys merges.
const mergeAbove = 96

func insertionSortKeys(keys []rankKey) {
	for i := 1; i < len(keys); i++ {
		k := keys[i]
		j := i
		for j > 0 && k.before(keys[j-1]) {
			keys[j] = keys[j-1]
			j--
		}
		keys[j] = k
	}
}

// mergeKeys merges the ranked runs a and b into out (len(a)+len(b)). The
// comparison is rankKey.before spelled as flags (SETcc, no jump) and the
// pick is by index.
func mergeKeys(out, a, b []rankKey) {
	i, j, k := 0, 0, 0
	for i < len(a) && j < len(b) {
		x, y := &a[i], &b[j]
		t := b2i(y.score > x.score) | b2i(y.score == x.score)&b2i(y.offer < x.offer) // y.before(*x)
		pick := [2]*rankKey{x, y}
		out[k] = *pick[t&1]
		j += t
		i += 1 - t
		k++
	}
	k += copy(out[k:], a[i:])
	copy(out[k:], b[j:])
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// finish copies the answer out of the scratch.
func (e *Engine) finish(s *scratch, d *api.Decision) {
	s.keysTmp = sortKeys(s.keys, s.keysTmp)
	d.Offers = resize(d.Offers, len(s.ranked))
	for i, k := range s.keys {
		c := s.ranked[k.cand]
		o := &e.offers[c.offer]
		d.Offers[i] = api.DecisionOffer{
			OfferID:       o.o.ID,
			CampaignID:    e.campaigns[c.campaign].c.ID,
			Name:          o.o.Name,
			Category:      o.o.Category,
			Rank:          i + 1,
			Score:         tidy(c.score),
			Propensity:    c.prop,
			Value:         c.value,
			Weight:        tidy(finite(c.ctxW * o.lever)),
			ContextWeight: tidy(c.ctxW),
			LeverWeight:   o.lever,
			Transactional: o.o.Transactional,
			PlanID:        o.o.PlanID,
		}
		if r, ok := e.staticRankReason(s, o, &c); ok {
			d.Offers[i].Reason = r
		} else {
			start := len(s.arena)
			e.appendRankReason(s, o, &c)
			s.refs = append(s.refs, textRef{idx: i, start: start, end: len(s.arena)})
		}
	}
	var text string
	if len(s.arena) > 0 {
		text = string(s.arena) // every reason built for this decision, in one allocation
	}
	for _, r := range s.refs {
		d.Offers[r.idx].Reason = text[r.start:r.end]
	}
	d.Suppressed = resize(d.Suppressed, len(s.supp))
	for i, x := range s.supp {
		out := &d.Suppressed[i]
		out.OfferID, out.CampaignID = e.offers[x.offer].o.ID, ""
		if x.campaign >= 0 {
			out.CampaignID = e.campaigns[x.campaign].c.ID
		}
		out.Code = x.code.api()
		if x.reason.id >= 0 {
			out.Reason = e.texts[x.reason.id]
		} else {
			out.Reason = text[x.reason.start:x.reason.end]
		}
	}
	e.holdouts(s, d)
}

// staticRankReason is the ranked reason built at Compile, when there is
// one for this offer, campaign, intent and churn level.
func (e *Engine) staticRankReason(s *scratch, o *offerC, c *candidate) (string, bool) {
	if o.reasons == nil || c.model {
		return "", false
	}
	for j, ci := range o.campaigns {
		if ci == c.campaign {
			return o.reasons[j][s.intentRow.idx*len(e.churns)+s.churnRow.idx], true
		}
	}
	return "", false
}

// appendRankReason writes a ranked reason that depends on the customer
// (a tariff saving, a learned propensity) into the text buffer.
func (e *Engine) appendRankReason(s *scratch, o *offerC, c *candidate) {
	if o.tariff && o.plan >= 0 {
		s.arena = appendf(s.arena, msgRankTariff, yuan(c.value), yuan(s.cur), yuan(s.bills[o.plan]), text(o.o.PlanID))
	} else {
		s.arena = append(s.arena, o.rankPrefix...)
	}
	switch c.src {
	case propInput:
		s.arena = appendf(s.arena, msgRankPropensity, estimate(c.prop))
		s.arena = append(s.arena, msgRankModel...)
	case propLearned:
		s.arena = appendf(s.arena, msgRankPropensity, estimate(c.prop))
		s.arena = appendf(s.arena, msgRankLearned, count(c.n))
	case propDrawn:
		s.arena = appendf(s.arena, msgRankPropensity, estimate(c.prop))
		s.arena = appendf(s.arena, msgRankDrawn, count(c.n))
	default:
		s.arena = append(s.arena, o.rankPrior...)
	}
	for _, p := range [...]string{s.intentRow.why(o.cat), s.churnRow.why(o.cat), e.campaigns[c.campaign].rankWeight, o.rankLever} {
		s.arena = append(s.arena, p...)
	}
}

// holdouts lists the held-out offers by campaign, into d.Holdout (empty,
// its memory reused).
func (e *Engine) holdouts(s *scratch, d *api.Decision) {
	if d.Holdout == nil {
		d.Holdout = []api.Holdout{}
	}
	if len(s.hold) == 0 {
		return
	}
	slices.SortFunc(s.hold, func(a, b holdEntry) int {
		return cmp.Or(cmp.Compare(a.campaign, b.campaign), cmp.Compare(a.offer, b.offer))
	})
	for i := 0; i < len(s.hold); {
		j := i
		for j < len(s.hold) && s.hold[j].campaign == s.hold[i].campaign {
			j++
		}
		var ids []string
		if n := len(d.Holdout); n < cap(d.Holdout) {
			ids = d.Holdout[:n+1][n].OfferIDs[:0]
		}
		for _, he := range s.hold[i:j] {
			ids = append(ids, e.offers[he.offer].o.ID)
		}
		d.Holdout = append(d.Holdout, api.Holdout{CampaignID: e.campaigns[s.hold[i].campaign].c.ID, OfferIDs: ids})
		i = j
	}
}
