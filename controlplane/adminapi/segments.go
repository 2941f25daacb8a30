package adminapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"touchpoint.dev/touchpoint/controlplane/analytics/clv"
	"touchpoint.dev/touchpoint/controlplane/analytics/segment"
	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/controlplane/store"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// POST /v1/segments/run is the segmentation job: read every profile and
// the contact ledger, score RFM, value tier, lifecycle stage and lifetime
// value, and write the scores as the customers' derived fields with
// CustomersDerive entries (only the customers whose scores changed), so
// they reach rules, agents and `customers show`. A run owns the fields
// below: each customer it writes gets all of them, set or unset.

// Derived fields a run writes (docs/SEGMENTS.md).
const (
	fieldRFMRecency        = "rfmRecency"
	fieldRFMFrequency      = "rfmFrequency"
	fieldRFMMonetary       = "rfmMonetary"
	fieldRFM               = "rfm"
	fieldRFMSegment        = "rfmSegment"
	fieldValueTier         = "valueTier"
	fieldLifecycleStage    = "lifecycleStage"
	fieldCLV               = "clv"
	fieldExpectedPurchases = "expectedPurchases"
	fieldPAlive            = "pAlive"
)

// segmentFields are the derived fields a run owns.
var segmentFields = []string{fieldRFMRecency, fieldRFMFrequency, fieldRFMMonetary, fieldRFM, fieldRFMSegment,
	fieldValueTier, fieldLifecycleStage, fieldCLV, fieldExpectedPurchases, fieldPAlive}

const (
	// deriveBatch is the customers of one derive entry.
	deriveBatch = 5000
	// deriveInFlight is how many derive entries are proposed at once, so
	// that raft batches them while the FSM applies the previous ones.
	deriveInFlight = 4
	// minCLVCustomers is the fewest purchasers a lifetime-value fit takes.
	minCLVCustomers = 50
	// maxAsOfAhead is how far after now a run's as-of may be: tomorrow's
	// midnight, in any zone, to count all of today.
	maxAsOfAhead = 48 * time.Hour
	// maxCLVFit is the most customers a lifetime-value model is fitted
	// on (an even sample of the purchasers; every purchaser is valued).
	maxCLVFit = 10_000
	// maxSpendFit is the same for Gamma-Gamma, whose three parameters a
	// few thousand repeaters pin down (the published CDNOW fit used 946)
	// and whose likelihood, on spends the model fits badly, Nelder-Mead
	// climbs for tens of thousands of evaluations.
	maxSpendFit     = 2_000
	defaultCLVWeeks = 52
)

// segmentRunners may run the job: it writes only derived fields, which
// analysts own as much as operators do.
var segmentRunners = []string{api.RoleAdmin, api.RoleOperator, api.RoleAnalyst}

// segmentState is what the job reads; the FSM provides it.
type segmentState interface {
	Applied() uint64
	EachContact(fn func(ev *protocol.ContactEvent) error) error
	EachProfile(fn func(p *protocol.Profile) error) error
}

// segmentConfig is the request's config, decoded strictly.
type segmentConfig struct {
	Tiers     segment.TierConfig      `json:"tiers"`
	Lifecycle segment.LifecycleConfig `json:"lifecycle"`
	Segments  segment.SegmentMap      `json:"segments"`
}

func (s *Server) runSegments(ctx context.Context, q *request) (any, error) {
	st, ok := s.state.(segmentState)
	if !ok {
		return nil, api.Errorf(api.CodeInternal, "this node's state does not hold customer profiles")
	}
	var req api.SegmentsRunRequest
	if len(bytes.TrimSpace(q.body)) > 0 {
		if err := decodeStrict(q.body, &req); err != nil {
			return nil, err
		}
	}
	var cfg segmentConfig
	if len(req.Config) > 0 {
		if err := decodeStrict(req.Config, &cfg); err != nil {
			var ae *api.Error
			if !errors.As(err, &ae) {
				return nil, fieldError("config", "%v", err)
			}
			c := *ae
			c.Field = strings.TrimSuffix("config."+ae.Field, ".")
			return nil, &c
		}
	}
	scfg := segment.Config{Tiers: cfg.Tiers, Lifecycle: cfg.Lifecycle, Segments: cfg.Segments}
	if err := validateSegmentConfig(scfg, req.Config); err != nil {
		return nil, fieldError("config", "%v", err)
	}
	in := req.Inputs
	fromAttrs := in.Recency != "" || in.Frequency != "" || in.Monetary != ""
	if fromAttrs && (in.Recency == "" || in.Frequency == "" || in.Monetary == "") {
		return nil, fieldError("inputs", "recency, frequency and monetary are attributes together or not at all")
	}
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&in.Tenure, "tenureMonths")
	def(&in.RecentUsage, "recentUsage")
	def(&in.EarlierUsage, "earlierUsage")
	asOf := req.AsOf
	now := s.cfg.Now()
	if asOf.IsZero() {
		asOf = now
	}
	if asOf.After(now.Add(maxAsOfAhead)) {
		// Every customer would read as inactive since: recency, lapsed
		// stages and lifetime value all wrong, written to every profile.
		return nil, fieldError("asOf", "as of %s is after now (%s): scores are as of a time the ledger has reached; tomorrow's date is the latest (to count all of today)",
			asOf.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	asOf = asOf.UTC()
	weeks := req.CLVHorizonWeeks
	if weeks == 0 {
		weeks = defaultCLVWeeks
	}
	if math.IsNaN(weeks) || math.IsInf(weeks, 0) {
		return nil, fieldError("clvHorizonWeeks", "clvHorizonWeeks must be a number")
	}

	res := &api.SegmentsRunResult{AsOf: asOf, Source: "ledger", DryRun: req.DryRun,
		Segments: map[string]int{}, Tiers: map[string]int{}, Stages: map[string]int{}}
	if fromAttrs {
		res.Source = "attributes"
	}
	start := time.Now()
	// Any customer erased after this index is looked up again when the
	// scores are written (fsm.CustomersDerive).
	readIndex := st.Applied()
	acts, err := fsm.SumActivities(st.EachContact, asOf)
	if err != nil {
		return nil, api.Errorf(api.CodeInternal, "read the ledger: %v", err)
	}
	var (
		// stored[i] is what the store holds of the fields a run owns
		// for cs[i] (ownedFields): the run keeps no whole profile.
		stored []string
		cs     []segment.Customer
		// ranked[i]: cs[i] has RFM inputs (a purchase by asOf, or all
		// three RFM attributes) and is ranked.
		ranked []bool
	)
	err = st.EachProfile(func(p *protocol.Profile) error {
		c, rank, err := segmentInputs(p, acts[p.ID], in, fromAttrs, asOf)
		if err != nil {
			// One customer's unreadable attribute skips that customer
			// (its stored fields stay) and is reported, rather than
			// holding up the whole base.
			res.Skipped++
			if len(res.SkippedCustomers) < maxSkippedReported {
				res.SkippedCustomers = append(res.SkippedCustomers, err.Error())
			}
			return ctx.Err()
		}
		stored, cs, ranked = append(stored, ownedFields(p.Derived)), append(cs, c), append(ranked, rank)
		return ctx.Err()
	})
	if err != nil {
		return nil, api.Errorf(api.CodeInternal, "read the profiles: %v", err)
	}
	res.Customers = len(cs)
	res.ReadSeconds = time.Since(start).Seconds()

	start = time.Now()
	scores, err := scoreSegments(cs, ranked, scfg)
	if err != nil {
		return nil, err
	}
	values := fitLifetimeValue(cs, acts, asOf, weeks, &res.CLV)
	fields := func(i int) map[string]any {
		v, ok := values[cs[i].ID]
		return scoreFields(&scores[i], v, ok)
	}
	// The changed customers' updates are built batch by batch as they are
	// written: a million field maps held at once would weigh a gigabyte.
	var changed []int
	var buf []byte
	for i, r := range scores {
		res.Segments[r.segment]++
		res.Tiers[string(r.tier)]++
		res.Stages[string(r.stage)]++
		v, ok := values[cs[i].ID]
		if buf = appendScoreOwned(buf[:0], &scores[i], v, ok); string(buf) == stored[i] {
			res.Unchanged++
			continue
		}
		changed = append(changed, i)
	}
	stored, acts, ranked = nil, nil, nil // the write does not need them
	res.ScoreSeconds = time.Since(start).Seconds()
	if req.DryRun {
		res.Updated = len(changed)
		return res, nil
	}

	start = time.Now()
	update := func(i int) fsm.DerivedFields {
		u := fsm.DerivedFields{ID: cs[i].ID, DerivedUpdate: protocol.DerivedUpdate{Set: fields(i)}}
		for _, k := range segmentFields {
			if _, ok := u.Set[k]; !ok {
				u.Unset = append(u.Unset, k)
			}
		}
		return u
	}
	if err := s.writeDerived(ctx, q, readIndex, changed, update, res); err != nil {
		return nil, err
	}
	res.WriteSeconds = time.Since(start).Seconds()
	return res, nil
}

// maxSkippedReported bounds how many skipped customers a run names.
const maxSkippedReported = 10

// segmentInputs reads one customer's inputs from the profile and the
// ledger (a, summed up to asOf). A missing attribute is 0; a present one
// must be a number. ranked says whether the customer has RFM inputs: a
// purchase in the ledger or, from attributes, all three RFM attributes.
// Ranked without them, it would pass for one who bought today.
func segmentInputs(p *protocol.Profile, a fsm.Activity, in api.SegmentInputs, fromAttrs bool, asOf time.Time) (c segment.Customer, ranked bool, err error) {
	c = segment.Customer{ID: p.ID}
	// read sets *dst from the attribute (left 0 when it is missing) and
	// says whether it is there.
	read := func(dst *float64, name string) bool {
		if err != nil || name == "" {
			return false
		}
		v, ok := p.Attributes[name]
		if !ok || v == nil {
			return false
		}
		f, ok := v.(float64)
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			err = fmt.Errorf("customer %s: attribute %s is %v: want a number ≥ 0", p.ID, name, v)
			return false
		}
		*dst = f
		return true
	}
	read(&c.TenureMonths, in.Tenure)
	read(&c.RecentUsage, in.RecentUsage)
	read(&c.EarlierUsage, in.EarlierUsage)
	if fromAttrs {
		// All three are read: Monetary is the value tiers' revenue
		// whether or not the customer is ranked.
		r, f, m := read(&c.RecencyDays, in.Recency), read(&c.Frequency, in.Frequency), read(&c.Monetary, in.Monetary)
		ranked = r && f && m
	} else {
		c.Frequency, c.Monetary = float64(a.PurchaseDays), math.Max(a.Spend, 0)
		if ranked = a.PurchaseDays > 0; ranked {
			c.RecencyDays = daysBetween(a.LastPurchase, asOf)
		}
	}
	if in.InactiveDays != "" {
		read(&c.InactiveDays, in.InactiveDays)
	} else if !a.LastContact.IsZero() {
		c.InactiveDays = daysBetween(a.LastContact, asOf)
	}
	return c, ranked, err
}

// segmentScore is what a run derives for one customer.
type segmentScore struct {
	rfm     segment.RFM // zero without a purchase
	segment string
	tier    segment.Tier
	stage   segment.Stage
}

// segmentNone is the RFM segment of a customer without purchases.
const segmentNone = "none"

// scoreSegments scores every customer. RFM ranks the customers with
// RFM inputs (ranked[i]: a purchase in the ledger by the as-of date, or
// all three RFM attributes): ranking customers who never bought, or whose
// attributes are missing, would take them for customers who bought
// today. The others get no RFM scores and the segment "none". Value
// tiers and lifecycle stages cover everyone.
func scoreSegments(cs []segment.Customer, ranked []bool, cfg segment.Config) ([]segmentScore, error) {
	var buyers []segment.Customer
	var buyerOf []int
	for i := range cs {
		if ranked[i] {
			buyers, buyerOf = append(buyers, cs[i]), append(buyerOf, i)
		}
	}
	rfm, err := segment.ScoreRFM(buyers)
	if err != nil {
		return nil, fieldError("inputs", "%v", err)
	}
	tiers, err := segment.ValueTiers(cs, cfg.Tiers)
	if err != nil {
		return nil, fieldError("config", "%v", err)
	}
	names := cfg.Segments
	if len(names.Rules) == 0 && names.Default == "" {
		names = segment.DefaultSegmentMap()
	}
	out := make([]segmentScore, len(cs))
	for i := range out {
		out[i].segment, out[i].tier = segmentNone, tiers[i]
		if out[i].stage, err = segment.LifecycleStage(cs[i], cfg.Lifecycle); err != nil {
			return nil, fieldError("config", "%v", err)
		}
	}
	for j, i := range buyerOf {
		out[i].rfm, out[i].segment = rfm[j], names.Name(rfm[j])
	}
	return out, nil
}

// clvNotAsked is the CLV summary's reason when the request's horizon
// is negative (the API's "skip lifetime value").
const clvNotAsked = "lifetime value not asked for (a negative clvHorizonWeeks skips it)"

// validateSegmentConfig checks the run's configuration. A zero part
// stands for its defaults only when the request leaves it out (or gives
// {}); a part written with fields is taken as written, so that
// lifecycle: {lapsedDays: 0} is refused like -5 rather than read as the
// default 90 days.
func validateSegmentConfig(cfg segment.Config, raw json.RawMessage) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	var parts map[string]map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &parts) != nil {
		return nil // decodeStrict took it: no part is an object with fields
	}
	for _, p := range []struct {
		name     string
		validate func() error
	}{{"tiers", cfg.Tiers.Validate}, {"lifecycle", cfg.Lifecycle.Validate}, {"segments", cfg.Segments.Validate}} {
		if len(parts[p.name]) > 0 {
			if err := p.validate(); err != nil {
				return err
			}
		}
	}
	return nil
}

func daysBetween(from, to time.Time) float64 {
	return math.Max(0, math.Floor(to.Sub(from).Hours()/24))
}

// lifetimeValue is one purchaser's BG/NBD figures, and its clv when
// Gamma-Gamma could be fitted (hasCLV).
type lifetimeValue struct {
	clv, purchases, alive float64
	hasCLV                bool
}

// fitLifetimeValue fits BG/NBD and Gamma-Gamma on the ledger's purchases
// (acts, summed up to asOf; in weeks, each UTC day with a purchase one
// purchase) and values every purchaser over the horizon. It records in
// sum what it fitted, or why it did not.
func fitLifetimeValue(ps []segment.Customer, acts map[string]fsm.Activity, asOf time.Time, weeks float64, sum *api.CLVRunSummary) map[string]lifetimeValue {
	if weeks < 0 {
		sum.Skipped = clvNotAsked
		return nil
	}
	var cs []clv.Customer
	for i := range ps {
		p := &ps[i]
		a := acts[p.ID]
		if a.PurchaseDays == 0 || a.LastPurchase.After(asOf) {
			// No purchase by asOf. SumActivities counts none after it;
			// BG/NBD needs t_x ≤ T whatever acts holds.
			continue
		}
		c := clv.Customer{ID: p.ID, X: float64(a.PurchaseDays - 1),
			Tx: a.LastPurchase.Sub(a.FirstPurchase).Hours() / (24 * 7), T: asOf.Sub(a.FirstPurchase).Hours() / (24 * 7)}
		if c.X > 0 {
			c.Zbar = a.RepeatSpend / c.X
		}
		cs = append(cs, c)
	}
	repeaters := clv.Repeaters(cs)
	sum.Customers, sum.Repeaters = len(cs), len(repeaters)
	if len(cs) < minCLVCustomers {
		sum.Skipped = fmt.Sprintf("%d customers with a purchase in the ledger; a fit takes at least %d", len(cs), minCLVCustomers)
		return nil
	}
	if !slices.ContainsFunc(cs, func(c clv.Customer) bool { return c.X > 0 }) {
		// BG/NBD fits how often customers come back: with no one back,
		// it degenerates (everyone alive for sure, buying nothing).
		sum.Skipped = fmt.Sprintf("none of the %d customers with a purchase has bought on a second day; a fit needs repeat purchases", len(cs))
		return nil
	}
	sample := everyKth(cs, maxCLVFit)
	sum.FittedOn = len(sample)
	bg, err := clv.FitBGNBD(sample)
	if err != nil {
		sum.Skipped = fmt.Sprintf("BG/NBD fit: %v", err)
		return nil
	}
	sum.HorizonWeeks = weeks
	sum.BGNBD = map[string]float64{"r": bg.R, "alpha": bg.Alpha, "a": bg.A, "b": bg.B}
	var gg clv.GammaGammaFit
	ggErr := errors.New("no repeat purchase of positive value")
	if sameSpend(repeaters) {
		ggErr = errors.New("every repeater spends the same on average: spend does not vary, so there is nothing to fit")
	} else if len(repeaters) > 0 {
		spendSample := everyKth(repeaters, maxSpendFit)
		sum.SpendFittedOn = len(spendSample)
		gg, ggErr = clv.FitGammaGamma(spendSample)
	}
	if ggErr == nil {
		sum.GammaGamma = map[string]float64{"p": gg.P, "q": gg.Q, "v": gg.V}
	} else {
		sum.Skipped = fmt.Sprintf("Gamma-Gamma fit: %v (clv is not written, and an earlier run's is removed; expectedPurchases and pAlive are written)", ggErr)
	}
	// Valuing half a million purchasers (a hypergeometric series each)
	// takes seconds: on every core.
	vs := make([]lifetimeValue, len(cs))
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(cs); i += workers {
				purchases := bg.ExpectedPurchases(weeks, cs[i])
				vs[i] = lifetimeValue{purchases: round4(purchases), alive: round4(bg.PAlive(cs[i]))}
				if ggErr == nil {
					vs[i].clv, vs[i].hasCLV = math.Round(100*purchases*gg.ExpectedSpend(cs[i]))/100, true
				}
			}
		}()
	}
	wg.Wait()
	out := make(map[string]lifetimeValue, len(cs))
	for i := range cs {
		out[cs[i].ID] = vs[i]
	}
	return out
}

// everyKth is at most n of cs, evenly spread (cs is in id order, so the
// sample is deterministic): four parameters are fitted as well from ten
// thousand customers as from a million, in a hundredth of the time.
func everyKth(cs []clv.Customer, n int) []clv.Customer {
	if len(cs) <= n {
		return cs
	}
	out := make([]clv.Customer, 0, n)
	for i := range n {
		out = append(out, cs[i*len(cs)/n])
	}
	return out
}

// sameSpend reports whether every repeater's mean spend is the same, a
// case Gamma-Gamma cannot fit (its variance parameters run off to
// infinity).
func sameSpend(cs []clv.Customer) bool {
	for _, c := range cs[min(1, len(cs)):] {
		if c.Zbar != cs[0].Zbar {
			return false
		}
	}
	return len(cs) > 1
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// scoreFields are the derived fields a run writes for a customer's score
// (and lifetime value, when hasV).
func scoreFields(r *segmentScore, v lifetimeValue, hasV bool) map[string]any {
	d := map[string]any{fieldRFMSegment: r.segment, fieldValueTier: string(r.tier), fieldLifecycleStage: string(r.stage)}
	if r.rfm.R > 0 {
		d[fieldRFMRecency], d[fieldRFMFrequency], d[fieldRFMMonetary] = float64(r.rfm.R), float64(r.rfm.F), float64(r.rfm.M)
		d[fieldRFM] = r.rfm.Code()
	}
	if hasV {
		d[fieldExpectedPurchases], d[fieldPAlive] = v.purchases, v.alive
		if v.hasCLV {
			d[fieldCLV] = v.clv
		}
	}
	return d
}

// ownedFields encodes the fields of d a run owns (segmentFields), in
// that order, so that two sets compare as strings: a million customers'
// stored scores take tens of megabytes this way, not their profiles.
func ownedFields(d map[string]any) string {
	var b []byte
	for i, k := range segmentFields {
		if v, ok := d[k]; ok {
			b = appendOwned(b, i, v)
		}
	}
	return string(b)
}

// appendScoreOwned appends what ownedFields(scoreFields(r, v, hasV))
// returns, without building the map (a run compares a million).
func appendScoreOwned(b []byte, r *segmentScore, v lifetimeValue, hasV bool) []byte {
	if r.rfm.R > 0 {
		b = appendOwned(b, 0, float64(r.rfm.R))
		b = appendOwned(b, 1, float64(r.rfm.F))
		b = appendOwned(b, 2, float64(r.rfm.M))
		b = appendOwned(b, 3, r.rfm.Code())
	}
	b = appendOwned(b, 4, r.segment)
	b = appendOwned(b, 5, string(r.tier))
	b = appendOwned(b, 6, string(r.stage))
	if hasV {
		if v.hasCLV {
			b = appendOwned(b, 7, v.clv)
		}
		b = appendOwned(b, 8, v.purchases)
		b = appendOwned(b, 9, v.alive)
	}
	return b
}

// appendOwned appends segmentFields[i] = v to an ownedFields encoding.
func appendOwned(b []byte, i int, v any) []byte {
	b = append(b, byte(i))
	switch v := v.(type) {
	case float64:
		if v == 0 {
			v = 0 // -0 too
		}
		b = append(b, 'n')
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(v))
	case string:
		b = append(b, 's')
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	case bool:
		b = append(b, 'b')
		if v {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	return b
}

// writeDerived proposes the changed profiles in derive entries, a few in
// flight at once, and sums their results into res.
func (s *Server) writeDerived(ctx context.Context, q *request, readIndex uint64, changed []int, update func(i int) fsm.DerivedFields, res *api.SegmentsRunResult) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		slots    = make(chan struct{}, deriveInFlight)
	)
	for from := 0; from < len(changed); from += deriveBatch {
		batch := changed[from:min(from+deriveBatch, len(changed))]
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			d := fsm.CustomersDerive{ReadIndex: readIndex, Customers: make([]fsm.DerivedFields, len(batch))}
			for j, i := range batch {
				d.Customers[j] = update(i)
			}
			payload, err := d.MarshalBinary()
			var r fsm.CustomersDeriveResult
			for attempt := 0; err == nil; attempt++ {
				// Every entry is its own request: one request id would
				// make the second entry a duplicate of the first. An
				// entry whose fate is unknown (a commit cut by a
				// leadership blip this node survived) is proposed again:
				// writing the same scores twice is harmless.
				_, err = s.propose(ctx, &request{r: q.r, who: q.who}, fsm.CmdCustomersDerive, fsm.RawPayload(payload), &r)
				if err == nil || attempt == 2 || !errors.Is(err, store.ErrOutcomeUnknown) || !s.store.IsLeader() {
					break
				}
				s.log.Warn("segments run: derive entry outcome unknown; proposing it again", "error", err, "attempt", attempt+1)
				err = nil
				time.Sleep(time.Second)
			}
			if err != nil {
				s.log.Warn("segments run: derive entry failed", "error", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				cancel()
				return
			}
			res.Updated += r.Updated
			res.Missing += r.Missing
			res.Index = max(res.Index, r.Index)
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// fieldError is an invalid_field error naming the request's field.
func fieldError(field, format string, args ...any) *api.Error {
	return &api.Error{Code: api.CodeInvalidField, Field: field, Message: fmt.Sprintf(format, args...)}
}
