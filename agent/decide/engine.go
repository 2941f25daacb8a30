package decide

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/churnmodel"
)

// Catalog is the configuration the engine decides over: every object the
// agent holds, as of Index. Order does not matter: Compile sorts by id.
type Catalog struct {
	Index     uint64
	Offers    []protocol.Offer
	Plans     []protocol.Plan
	Campaigns []protocol.Campaign
	Policies  []protocol.ContactPolicy
	// Churn is the active churn model, nil when none is active.
	Churn *ChurnModel `json:",omitempty"`
	// Propensities is the learned propensity table, nil when there is
	// none (learned.go).
	Propensities *protocol.PropensityTable `json:",omitempty"`
}

// ChurnModel is the catalogue's active churn model. When a catalogue has
// one, every decision scores its customer with it: the probability and
// its warning level replace the profile's derived churnRisk and
// churnLevel, for the answer, for rules (profile.churnRisk,
// profile.churnLevel) and for the churn-level weights.
type ChurnModel struct {
	ID      string
	Version int
	Model   *churnmodel.Model
}

// Option changes how Compile builds an engine.
type Option func(*options)

type options struct {
	weights Weights
	zone    *time.Location
}

// WithWeights replaces DefaultWeights.
func WithWeights(w Weights) Option { return func(o *options) { o.weights = w } }

// WithZone sets the time zone of the rules' now (now.Hour() and the
// like): a decision at 14:00 UTC is at hour 22 in Asia/Shanghai. Without
// it, now is in Input.Now's own location.
func WithZone(loc *time.Location) Option { return func(o *options) { o.zone = loc } }

// Engine decides for one catalogue version. It is immutable once
// compiled and safe for concurrent use; Decide does no I/O and reads no
// clock.
type Engine struct {
	index     uint64
	offers    []offerC
	campaigns []campaignC
	policies  []policyC
	plans     []planC // every plan, by id
	planByID  map[string]int
	active    []int // indexes of active plans
	rules     []*rule
	flat      []need // every constant read of every rule, once
	boxed     map[string]any
	texts     []string // the reasons built at Compile; a reason's id indexes it
	// lookback is how far back a contact can matter: the longest policy
	// window, or the longest declines window plus pause. Older contacts
	// are dropped before anything counts them.
	lookback time.Duration
	intent   map[string]factorRow
	churn    map[string]factorRow
	intents  []factorRow // by idx
	churns   []factorRow
	zone     *time.Location // the rules' now; nil: Input.Now's
	model    *ChurnModel    // nil: no live churn score
	learned  *learned       // nil: no learned propensities
	levels   churnmodel.WarningThresholds
	scratch  sync.Pool
}

// Index is the catalogue index the engine was compiled from.
func (e *Engine) Index() uint64 { return e.index }

// CampaignOfOffer is the id of the one campaign of the catalogue that
// lists offerID, whatever that campaign's status or schedule, for a
// contact of customerID. ok is false when the catalogue holds no such
// offer, or no campaign or several list it (then a contact that names only
// the offer does not say which), and when the customer is in that
// campaign's control group: a held-out customer who takes the offer
// unprompted was not treated by the campaign, and campaign results count
// that acceptance as the control group's, by its having no campaign.
func (e *Engine) CampaignOfOffer(offerID, customerID string) (id string, ok bool) {
	i, found := slices.BinarySearchFunc(e.offers, offerID, func(o offerC, id string) int { return cmp.Compare(o.o.ID, id) })
	if !found || len(e.offers[i].campaigns) != 1 {
		return "", false
	}
	c := &e.campaigns[e.offers[i].campaigns[0]]
	if InControlGroup(customerID, c.c.ID, c.control) {
		return "", false
	}
	return c.c.ID, true
}

// chanSet is a set of protocol.KnownChannels by index; 0 means every
// channel.
type chanSet uint16

func channelIndex(ch string) int { return slices.Index(protocol.KnownChannels, ch) }

func makeChanSet(chs []string) chanSet {
	var s chanSet
	for _, c := range chs {
		if i := channelIndex(c); i >= 0 {
			s |= 1 << i
		} else {
			s |= 1 << 15 // an unknown channel: the set is not "every channel"
		}
	}
	return s
}

func (s chanSet) has(ch int) bool { return s == 0 || (ch >= 0 && s&(1<<ch) != 0) }

// slot is a rule in one place (an offer's eligibility, a campaign's
// segment), with its reasons built in advance.
type slot struct {
	r           *rule // nil: always true
	code        code
	falseReason reason
	missing     []reason // per r.needs
	errPrefix   string   // + the evaluation error
	brokenWhy   reason   // the compile error's reason
}

func (e *Engine) makeSlot(rules map[string]*rule, zones zoneCache, kind, src string, c code) slot {
	s := slot{code: c}
	if strings.TrimSpace(src) == "" {
		return s
	}
	r, ok := rules[src]
	if !ok {
		r = e.addRule(src, zones)
		rules[src] = r
	}
	s.r = r
	q := quoteRule(src)
	if r.err != nil {
		s.brokenWhy = e.intern(fmt.Sprintf(msgRuleBroken, kind, q, firstLine(r.err.Error())))
		return s
	}
	s.falseReason = e.intern(fmt.Sprintf(msgRuleFalse, kind, q))
	s.errPrefix = fmt.Sprintf(msgRuleFailed, kind, q)
	for _, n := range r.needs {
		if n.context {
			s.missing = append(s.missing, e.intern(fmt.Sprintf(msgRuleMissing, kind, q, msgContext, n.key, msgRequestContext)))
		} else {
			s.missing = append(s.missing, e.intern(fmt.Sprintf(msgRuleMissing, kind, q, msgProfile, n.key, msgCustomerProfile)))
		}
	}
	return s
}

// offerC is an offer compiled: the fields every decision reads come
// first, together; the document and the reasons after them.
type offerC struct {
	campaigns     []int
	channels      chanSet
	cat           int
	validBad      bool
	transactional bool
	tariff        bool
	from          time.Time // zero: unbounded
	until         time.Time
	rules         [3]slot // eligibility, applicability, suitability
	suppression   *protocol.Suppression
	volumeCap     int64
	value         float64
	prior         float64
	lever         float64
	plan          int // index into plans of a tariff offer's plan; -1 none

	reasonNoCampaign reason
	reasonChannel    reason
	reasonValidity   reason
	reasonPlan       reason // a tariff offer whose plan cannot be used (0: it can)
	rankPrefix       string // "retention offer worth 60.00 yuan"
	rankLever        string // ", lever ×1.2" or ""
	rankPrior        string // ", propensity 0.1 (prior)"
	// reasons[j][intent.idx*len(churns)+churn.idx] is the ranked reason
	// under campaign campaigns[j] with the prior propensity (nil: build it
	// per decision).
	reasons [][]string

	o protocol.Offer
}

type campaignC struct {
	c        protocol.Campaign
	inactive bool
	start    time.Time
	end      time.Time
	schedBad bool
	channels chanSet
	segment  slot
	weight   float64
	control  float64
	offers   []int

	reasonInactive reason
	reasonSchedule reason
	reasonChannel  reason
	rankWeight     string // ", ×1.5 for campaign x" or ""
}

type policyC struct {
	p       protocol.ContactPolicy
	all     bool
	channel string
	window  time.Duration
	max     int
	bad     reason // policy_error reason when the policy cannot be applied (0: it can)
	quiet   bool
	qStart  int // minutes after midnight
	qEnd    int
	loc     *time.Location
	consent bool
}

type planC struct {
	p      protocol.Plan
	active bool
}

// Compile builds an engine for one catalogue version: it compiles every
// rule once (one program per distinct rule text), parses times, loads the
// time zones of quiet hours and rules, and builds every reason that does
// not depend on the customer. It never fails: an object that cannot be
// used (a rule that does not compile, a zone that does not load) filters
// the offers it touches, with a reason, at every decision.
func Compile(cat Catalog, opts ...Option) *Engine {
	o := options{weights: DefaultWeights()}
	for _, opt := range opts {
		opt(&o)
	}
	e := &Engine{
		index:    cat.Index,
		planByID: map[string]int{},
		texts:    []string{"", msgDoNotDisturb},
		zone:     o.zone,
	}
	e.intent, e.intents = compileFactors(o.weights.Intent, "intent")
	e.churn, e.churns = compileFactors(o.weights.ChurnLevel, "churn level")
	rules := map[string]*rule{}
	zones := zoneCache{}

	plans := slices.Clone(cat.Plans)
	slices.SortStableFunc(plans, func(a, b protocol.Plan) int { return cmp.Compare(a.ID, b.ID) })
	for _, p := range plans {
		if _, dup := e.planByID[p.ID]; dup {
			continue
		}
		e.planByID[p.ID] = len(e.plans)
		active := p.Status == "" || p.Status == "active"
		if active {
			e.active = append(e.active, len(e.plans))
		}
		e.plans = append(e.plans, planC{p: p, active: active})
	}

	offers := slices.Clone(cat.Offers)
	slices.SortStableFunc(offers, func(a, b protocol.Offer) int { return cmp.Compare(a.ID, b.ID) })
	offerByID := map[string]int{}
	for _, of := range offers {
		if _, dup := offerByID[of.ID]; dup {
			continue
		}
		offerByID[of.ID] = len(e.offers)
		e.offers = append(e.offers, e.compileOffer(of, rules, zones))
	}

	camps := slices.Clone(cat.Campaigns)
	slices.SortStableFunc(camps, func(a, b protocol.Campaign) int { return cmp.Compare(a.ID, b.ID) })
	seenCamp := map[string]bool{}
	for _, c := range camps {
		if seenCamp[c.ID] {
			continue
		}
		seenCamp[c.ID] = true
		cc := e.compileCampaign(c, rules, zones)
		ci := len(e.campaigns)
		seen := map[int]bool{}
		for _, id := range c.Offers {
			if oi, ok := offerByID[id]; ok && !seen[oi] {
				seen[oi] = true
				cc.offers = append(cc.offers, oi)
				e.offers[oi].campaigns = append(e.offers[oi].campaigns, ci)
			}
		}
		e.campaigns = append(e.campaigns, cc)
	}

	pols := slices.Clone(cat.Policies)
	slices.SortStableFunc(pols, func(a, b protocol.ContactPolicy) int { return cmp.Compare(a.ID, b.ID) })
	seenPol := map[string]bool{}
	for _, p := range pols {
		if seenPol[p.ID] {
			continue
		}
		seenPol[p.ID] = true
		e.policies = append(e.policies, e.compilePolicy(p, zones))
	}
	for _, p := range e.policies {
		e.lookback = max(e.lookback, p.window)
	}
	for _, o := range e.offers {
		if sp := o.suppression; sp != nil && sp.Days > 0 && sp.PauseDays > 0 && sp.Days+sp.PauseDays < 100*366 {
			e.lookback = max(e.lookback, time.Duration(sp.Days+sp.PauseDays)*day)
		} else if sp != nil {
			e.lookback = math.MaxInt64 // an odd suppression: keep every contact
		}
	}
	e.buildRankReasons()
	e.boxed = map[string]any{"": ""}
	for _, k := range protocol.KnownChannels {
		e.boxed[k] = k
	}
	for k := range o.weights.Intent {
		e.boxed[k] = k
	}
	// A model that cannot score is left out: decisions fall back to the
	// profile's derived fields (the control plane validated it, so this
	// is a broken invariant, not an expected state).
	if cm := cat.Churn; cm != nil && cm.Model != nil && cm.Model.Prepare() == nil {
		e.model, e.levels = cm, cm.Model.Thresholds()
		for _, l := range churnmodel.Levels {
			e.boxed[l] = l
		}
	}
	e.compileLearned(cat.Propensities)
	e.scratch.New = func() any { return e.newScratch() }
	return e
}

// addRule compiles src into the engine: its reads join the decision's
// flat values, its fast path is bound to their indexes.
func (e *Engine) addRule(src string, zones zoneCache) *rule {
	r, _ := compileRule(src, zones)
	r.id = len(e.rules)
	e.rules = append(e.rules, r)
	for _, n := range r.flat {
		if !slices.Contains(e.flat, n) {
			e.flat = append(e.flat, n)
		}
	}
	for _, n := range r.needs {
		r.needIdx = append(r.needIdx, e.flatIndex(n))
	}
	if r.err == nil {
		r.fast = compileFast(src, e.flatIndex)
	}
	return r
}

// flatIndex is n's index among the decision's flat values (-1: none).
func (e *Engine) flatIndex(n need) int { return slices.Index(e.flat, n) }

// reason is a suppression reason without a pointer, so that a decision
// collects them without write barriers: id > 0 is Engine.texts[id] (built
// at Compile), id < 0 the decision's text buffer [start, end).
type reason struct{ id, start, end int32 }

var noReason = reason{}

// reasonDoNotDisturb is texts[1].
var reasonDoNotDisturb = reason{id: 1}

func (e *Engine) intern(s string) reason {
	e.texts = append(e.texts, s)
	return reason{id: int32(len(e.texts) - 1)}
}

// box returns s as an interface value, from the channels and intents
// boxed at Compile when it is one of them (boxing a string allocates).
func (e *Engine) box(s string) any {
	if v, ok := e.boxed[s]; ok {
		return v
	}
	return s
}

// maxRankReasons bounds the reasons built in advance (an offer × each of
// its campaigns × every intent row × every churn row); a larger table is
// served by building reasons per decision.
const maxRankReasons = 200_000

// buildRankReasons builds the reason of every ranked offer that does not
// depend on the customer's own figures (tariff savings and learned
// propensities do), so that ranking allocates no strings.
func (e *Engine) buildRankReasons() {
	n := 0
	for i := range e.offers {
		n += len(e.offers[i].campaigns)
	}
	if n*len(e.intents)*len(e.churns) > maxRankReasons {
		return
	}
	for i := range e.offers {
		o := &e.offers[i]
		if o.tariff {
			continue
		}
		o.reasons = make([][]string, len(o.campaigns))
		for j, ci := range o.campaigns {
			rs := make([]string, 0, len(e.intents)*len(e.churns))
			for _, ir := range e.intents {
				for _, cr := range e.churns {
					rs = append(rs, o.rankPrefix+o.rankPrior+ir.why(o.cat)+cr.why(o.cat)+e.campaigns[ci].rankWeight+o.rankLever)
				}
			}
			o.reasons[j] = rs
		}
	}
}

func parseBound(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339, s)
}

func (e *Engine) compileOffer(of protocol.Offer, rules map[string]*rule, zones zoneCache) offerC {
	c := offerC{
		o:             of,
		cat:           categoryIndex(of.Category),
		channels:      makeChanSet(of.Channels),
		transactional: of.Transactional,
		tariff:        of.Category == protocol.CategoryTariff,
		suppression:   of.Suppression,
		volumeCap:     of.VolumeCap,
		value:         finiteNonNeg(of.Value, 0),
		prior:         clampPropensity(of.EffectivePropensity(), protocol.DefaultPropensity),
		lever:         finiteNonNeg(of.EffectiveLeverWeight(), 1),
		plan:          -1,
	}
	c.rules[0] = e.makeSlot(rules, zones, "eligibility", of.Eligibility, codeNotEligible)
	c.rules[1] = e.makeSlot(rules, zones, "applicability", of.Applicability, codeNotApplicable)
	c.rules[2] = e.makeSlot(rules, zones, "suitability", of.Suitability, codeNotSuitable)
	c.reasonNoCampaign = e.intern(fmt.Sprintf(msgNoCampaign, of.ID))
	c.reasonChannel = e.intern(fmt.Sprintf(msgOfferChannel, of.ID, strings.Join(of.Channels, ", ")))

	from, err1 := parseBound(of.ValidFrom)
	until, err2 := parseBound(of.ValidUntil)
	c.from, c.until = from, until
	switch {
	case err1 != nil || err2 != nil:
		c.validBad = true
		c.reasonValidity = e.intern(fmt.Sprintf(msgValidBad, of.ID, cmp.Or(err1, err2)))
	case !from.IsZero() && !until.IsZero():
		c.reasonValidity = e.intern(fmt.Sprintf(msgValidWindow, of.ID, of.ValidFrom, of.ValidUntil))
	case !from.IsZero():
		c.reasonValidity = e.intern(fmt.Sprintf(msgValidFrom, of.ID, of.ValidFrom))
	default:
		c.reasonValidity = e.intern(fmt.Sprintf(msgValidUntil, of.ID, of.ValidUntil))
	}
	if of.Category == protocol.CategoryTariff {
		pi, ok := e.planByID[of.PlanID]
		switch {
		case of.PlanID == "":
			c.reasonPlan = e.intern(fmt.Sprintf(msgNoPlan, of.ID))
		case !ok:
			c.reasonPlan = e.intern(fmt.Sprintf(msgPlanMissing, of.ID, of.PlanID))
		case !e.plans[pi].active:
			c.reasonPlan = e.intern(fmt.Sprintf(msgPlanRetired, of.ID, of.PlanID))
		}
		if ok {
			c.plan = pi
		}
	}
	c.rankPrefix = fmt.Sprintf(msgRankOffer, cmp.Or(of.Category, "uncategorised"), money(finiteNonNeg(of.Value, 0)))
	if c.lever != 1 {
		c.rankLever = fmt.Sprintf(msgRankLever, formatFactor(c.lever))
	}
	c.rankPrior = fmt.Sprintf(msgRankPropensity, formatFactor(c.prior)) + msgRankPrior
	return c
}

func (e *Engine) compileCampaign(c protocol.Campaign, rules map[string]*rule, zones zoneCache) campaignC {
	cc := campaignC{
		c:        c,
		inactive: c.Status != "" && c.Status != protocol.StatusActive,
		channels: makeChanSet(c.Channels),
		weight:   finiteNonNeg(c.BusinessWeight, 1),
		control:  c.ControlGroupPercent,
	}
	if cc.weight == 0 {
		cc.weight = 1
	}
	if math.IsNaN(cc.control) {
		cc.control = 100 // fail closed: hold everyone out rather than guess
	}
	cc.segment = e.makeSlot(rules, zones, msgSegment, c.Segment, codeNotInSegment)
	cc.reasonInactive = e.intern(fmt.Sprintf(msgCampaignInactive, c.ID, c.Status))
	cc.reasonChannel = e.intern(fmt.Sprintf(msgCampaignChannel, c.ID, strings.Join(c.Channels, ", ")))
	start, err1 := parseBound(c.StartAt)
	end, err2 := parseBound(c.EndAt)
	cc.start, cc.end = start, end
	switch {
	case err1 != nil || err2 != nil:
		cc.schedBad = true
		cc.reasonSchedule = e.intern(fmt.Sprintf(msgCampaignBadTime, c.ID, cmp.Or(err1, err2)))
	case !start.IsZero() && !end.IsZero():
		cc.reasonSchedule = e.intern(fmt.Sprintf(msgCampaignWindow, c.ID, c.StartAt, c.EndAt))
	case !start.IsZero():
		cc.reasonSchedule = e.intern(fmt.Sprintf(msgCampaignStarts, c.ID, c.StartAt))
	default:
		cc.reasonSchedule = e.intern(fmt.Sprintf(msgCampaignEnds, c.ID, c.EndAt))
	}
	if cc.weight != 1 {
		cc.rankWeight = fmt.Sprintf(msgRankCampaign, formatFactor(cc.weight), c.ID)
	}
	return cc
}

// parseClock parses "HH:MM" into minutes after midnight.
func parseClock(s string) (int, bool) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

func (e *Engine) compilePolicy(p protocol.ContactPolicy, zones zoneCache) policyC {
	c := policyC{p: p, all: p.Channel == protocol.ChannelAll, channel: p.Channel, max: p.MaxContacts, consent: p.RequireConsent}
	w, err := p.WindowDuration()
	switch {
	case err != nil:
		c.bad = e.intern(fmt.Sprintf(msgPolicyWindow, p.ID, err))
	case w <= 0:
		c.bad = e.intern(fmt.Sprintf(msgPolicyWindow, p.ID, fmt.Errorf("window %q is not positive", p.Window)))
	}
	c.window = w
	if q := p.QuietHours; q != nil && c.bad == noReason {
		s, ok1 := parseClock(q.Start)
		en, ok2 := parseClock(q.End)
		tz := cmp.Or(q.Timezone, protocol.DefaultTimezone)
		if !ok1 || !ok2 {
			c.bad = e.intern(fmt.Sprintf(msgPolicyHours, p.ID, q.Start, q.End))
		} else if loc, err := zones.load(tz); err != nil {
			c.bad = e.intern(fmt.Sprintf(msgPolicyZone, p.ID, tz, err))
		} else {
			c.quiet, c.qStart, c.qEnd, c.loc = s != en, s, en, loc
		}
	}
	return c
}

func finiteNonNeg(x, def float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
		return def
	}
	return x
}

// clampPropensity keeps a propensity in [0, 1]; NaN gives def.
func clampPropensity(x, def float64) float64 {
	switch {
	case math.IsNaN(x):
		return def
	case x < 0:
		return 0
	case x > 1:
		return 1
	}
	return x
}
