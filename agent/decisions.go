package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"touchpoint.dev/touchpoint/agent/cache"
	"touchpoint.dev/touchpoint/agent/decide"
	"touchpoint.dev/touchpoint/agent/link"
	"touchpoint.dev/touchpoint/agent/outbox"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/diskspace"
)

// fetchTimeout bounds how long a decision waits for the control plane to
// send a profile the cache does not hold.
const fetchTimeout = 500 * time.Millisecond

// engines compiles the decision engine once per catalogue version.
type engines struct {
	cache *cache.Cache
	zone  *time.Location // the rules' now (Config.Timezone)
	mu    sync.Mutex
	ver   uint64
	eng   *decide.Engine
	// model is the active churn model as last decoded, with the index of
	// its document: a catalogue change elsewhere does not decode it again.
	model      *decide.ChurnModel
	modelIndex uint64
	// modelErr is why the active model could not be used (nil: it is, or
	// none is active). Decisions go on without a live churn score.
	modelErr error
}

func (e *engines) get() (*decide.Engine, error) {
	ver := e.cache.CatalogVersion()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.eng != nil && e.ver == ver {
		return e.eng, nil
	}
	idx := e.cache.Position().Index
	cat := decide.Catalog{Index: idx}
	if err := listKind(e.cache, protocol.KindOffer, &cat.Offers); err != nil {
		return nil, err
	}
	if err := listKind(e.cache, protocol.KindPlan, &cat.Plans); err != nil {
		return nil, err
	}
	if err := listKind(e.cache, protocol.KindCampaign, &cat.Campaigns); err != nil {
		return nil, err
	}
	if err := listKind(e.cache, protocol.KindContactPolicy, &cat.Policies); err != nil {
		return nil, err
	}
	cat.Churn, e.modelErr = e.activeModel()
	var props []protocol.PropensityTable
	if err := listKind(e.cache, protocol.KindPropensities, &props); err != nil {
		return nil, err
	}
	for i := range props {
		if props[i].ID == protocol.DefaultPropensityTable {
			cat.Propensities = &props[i]
		}
	}
	e.eng, e.ver = decide.Compile(cat, decide.WithZone(e.zone)), ver
	return e.eng, nil
}

// activeModel is the catalogue's active churn model (protocol.ActiveModel
// picks it), decoded and prepared, or nil when none is active. Only the
// statuses are read for every model; the body of the active one is
// decoded when its document changed.
func (e *engines) activeModel() (*decide.ChurnModel, error) {
	objs, err := e.cache.List(string(protocol.KindModel))
	if err != nil {
		return nil, fmt.Errorf("read models: %w", err)
	}
	heads := make([]protocol.Model, len(objs))
	for i, o := range objs {
		var h struct {
			ID        string `json:"id"`
			Version   int    `json:"version"`
			Status    string `json:"status"`
			CreatedAt string `json:"createdAt"`
		}
		if err := json.Unmarshal(o.Doc, &h); err != nil {
			return nil, fmt.Errorf("decode Model %s: %w", o.ID, err)
		}
		heads[i] = protocol.Model{ID: h.ID, Version: h.Version, Status: h.Status, CreatedAt: h.CreatedAt}
	}
	best := protocol.ActiveModel(heads)
	if best == nil {
		e.model, e.modelIndex = nil, 0
		return nil, nil
	}
	o := objs[slices.IndexFunc(heads, func(m protocol.Model) bool { return m.ID == best.ID })]
	if e.model != nil && e.model.ID == o.ID && e.modelIndex == o.Index {
		return e.model, nil
	}
	var m protocol.Model
	if err := json.Unmarshal(o.Doc, &m); err != nil || m.Body == nil {
		return nil, fmt.Errorf("decode Model %s: %v", o.ID, err)
	}
	if err := m.Body.Prepare(); err != nil {
		return nil, fmt.Errorf("model %s cannot score: %w", o.ID, err)
	}
	e.model, e.modelIndex = &decide.ChurnModel{ID: m.ID, Version: m.Version, Model: m.Body}, o.Index
	return e.model, nil
}

// churnModelErr is why the last compiled engine has no live churn score
// although a model is active (nil otherwise).
func (e *engines) churnModelErr() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.modelErr
}

// compileOnChange recompiles the engine as soon as the catalogue changes,
// so that no decision pays for compiling 200 offers' rules.
func (a *Agent) compileOnChange(ctx context.Context) {
	for {
		changed := a.cache.CatalogChanged()
		if _, err := a.engines.get(); err != nil {
			a.log.Warn("compile the decision engine", "error", err)
		}
		if err := a.engines.churnModelErr(); err != nil {
			a.log.Warn("decide without a live churn score", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

func listKind[T any](c *cache.Cache, kind protocol.Kind, out *[]T) error {
	objs, err := c.List(string(kind))
	if err != nil {
		return fmt.Errorf("read %s: %w", kind.Plural(), err)
	}
	for _, o := range objs {
		var v T
		if err := json.Unmarshal(o.Doc, &v); err != nil {
			return fmt.Errorf("decode %s %s: %w", kind, o.ID, err)
		}
		*out = append(*out, v)
	}
	return nil
}

// profile returns the customer's profile: from the cache, or fetched from
// the control plane on a miss (then cached). A customer held from before
// this session is refreshed in the background the first time it is asked
// for, to pick up contacts recorded elsewhere while the agent was away (a
// decision's lookup refreshes it first instead: refreshFirst).
func (a *Agent) profile(ctx context.Context, id string) (*protocol.Profile, *api.Error) {
	p, ok, err := a.cache.Profile(id)
	if err != nil {
		return nil, api.Errorf(api.CodeInternal, "%v", err)
	}
	if ok {
		if !a.link.Refreshed(id, p.Region) {
			a.refreshInBackground(id)
		}
		return p, nil
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	p, err = a.link.FetchProfile(ctx, id)
	switch {
	case err == nil:
		a.metrics.profileFetches.WithLabelValues("fetched").Inc()
		return p, nil
	case errors.Is(err, link.ErrUnknownCustomer):
		a.metrics.profileFetches.WithLabelValues("unknown").Inc()
		return nil, api.Errorf(api.CodeUnknownCustomer, msgUnknownCustomer, id)
	case errors.Is(err, link.ErrOffline), errors.Is(err, context.DeadlineExceeded):
		a.metrics.profileFetches.WithLabelValues("offline").Inc()
		return nil, api.Errorf(api.CodeUnknownCustomer, msgCustomerNotCached, id)
	}
	a.metrics.profileFetches.WithLabelValues("error").Inc()
	return nil, api.Errorf(api.CodeUnavailable, "fetch customer %s: %v", id, err)
}

// refreshFirst fetches a held customer's profile and history from the
// control plane before the first decision of a session uses them (at most
// fetchTimeout, the wait a miss may take): contacts other agents made
// while this one was away would otherwise be missed by that decision, and
// a capped offer shown again. It reports whether the cache now holds the
// fresh copy. Past maxRefreshing fetches in flight, or when the fetch
// fails, the decision goes on with what the cache holds and the refresh
// goes on in the background.
func (a *Agent) refreshFirst(ctx context.Context, id string) bool {
	a.refreshMu.Lock()
	if a.refreshing[id] || len(a.refreshing) >= maxRefreshing {
		a.refreshMu.Unlock()
		return false // one is on its way already, or too many are
	}
	a.refreshing[id] = true
	a.refreshMu.Unlock()
	release := func() {
		a.refreshMu.Lock()
		delete(a.refreshing, id)
		a.refreshMu.Unlock()
	}
	fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	_, err := a.link.FetchProfile(fctx, id)
	cancel()
	release()
	if err == nil {
		a.metrics.profileFetches.WithLabelValues("refreshed").Inc()
		return true
	}
	if !errors.Is(err, link.ErrOffline) {
		a.log.Debug("refresh profile before deciding", "customer", id, "error", err)
	}
	if !errors.Is(err, link.ErrUnknownCustomer) {
		a.refreshInBackground(id)
	}
	return false
}

func (a *Agent) refreshInBackground(id string) {
	a.refreshMu.Lock()
	if a.refreshing[id] || len(a.refreshing) >= maxRefreshing {
		a.refreshMu.Unlock()
		return
	}
	a.refreshing[id] = true
	a.refreshMu.Unlock()
	go func() {
		defer func() {
			a.refreshMu.Lock()
			delete(a.refreshing, id)
			a.refreshMu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := a.link.FetchProfile(ctx, id); err != nil && !errors.Is(err, link.ErrOffline) {
			a.log.Debug("refresh profile", "error", err)
		}
	}()
}

// maxRefreshing bounds background profile refreshes in flight.
const maxRefreshing = 64

// Decide answers a decision request as POST /v1/decisions does. Holdouts
// are recorded as contacts in the background, unless the request is a dry
// run.
func (a *Agent) Decide(ctx context.Context, req api.DecisionRequest) (api.Decision, *api.Error) {
	var d api.Decision
	if aerr := a.decideInto(ctx, req, &d); aerr != nil {
		return api.Decision{}, aerr
	}
	return d, nil
}

// decideInto decides into d, reusing its memory (see decide.DecideInto).
func (a *Agent) decideInto(ctx context.Context, req api.DecisionRequest, d *api.Decision) *api.Error {
	if !a.cache.Configured() {
		// Never reached the control plane since it enrolled: no
		// catalogue, no customers. Not the customer's fault (404).
		return api.Errorf(api.CodeUnavailable, msgNoConfiguration)
	}
	now := a.cfg.Now()
	l := a.lookup(ctx, req.CustomerID, now)
	defer a.lookups.Put(l)
	if l.err != nil {
		return l.err
	}
	eng, err := a.engines.get()
	if err != nil {
		return api.Errorf(api.CodeInternal, "%v", err)
	}
	eng.DecideInto(d, decide.Input{
		DecisionID: newDecisionID(), CustomerID: req.CustomerID, Channel: req.Channel, Intent: req.Intent,
		Context: req.Context, Now: now, Profile: l.profile, Contacts: l.contacts, Rand: l.rand,
		OfferVolume: a.volumes.current(),
	})
	a.metrics.decisions.Inc()
	if len(d.Holdout) > 0 && !req.DryRun {
		a.recordHoldouts(*d, l.contacts)
	}
	return nil
}

func (a *Agent) postDecision(w http.ResponseWriter, r *http.Request) {
	req, err := api.DecodeDecisionRequest(http.MaxBytesReader(w, r.Body, api.DefaultDecisionBodyLimit+1), api.DefaultDecisionBodyLimit)
	if err != nil {
		a.refuse(w, r, asAPIError(err))
		return
	}
	// Answers are pooled: DecideInto reuses their lists, and the body its
	// buffer, so a decision served over HTTP allocates little once the
	// pool is warm.
	ans, _ := a.answers.Get().(*answer)
	if ans == nil {
		ans = new(answer)
	}
	defer a.answers.Put(ans)
	if aerr := a.decideInto(r.Context(), req, &ans.d); aerr != nil {
		a.refuse(w, r, aerr)
		return
	}
	var ok bool
	if ans.body, ok = appendDecisionJSON(ans.body[:0], &ans.d); !ok {
		api.WriteJSON(w, http.StatusOK, &ans.d) // encoding/json's answer (an error) to what it refuses
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(ans.body)
}

// answer is one pooled decision answer and its encoded body.
type answer struct {
	d    api.Decision
	body []byte
}

func asAPIError(err error) *api.Error {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae
	}
	return api.Errorf(api.CodeBadRequest, "%v", err)
}

// recordHoldouts logs one holdout contact per held-out campaign, without
// making the decision wait for the disk; a full outbox drops them (and
// counts it). A campaign that held the customer out within holdoutVisit
// (in the history the decision read, or in what this agent logged since)
// is not logged again: a holdout stands for the offer a treated customer
// would have been shown, and a kiosk or IVR flow asks for decisions
// several times a visit (one per screen, a retry), while its client logs
// one presentation. Logged each time, the holdouts of one visit would use
// up the customer's contact caps with nothing shown.
func (a *Agent) recordHoldouts(d api.Decision, history []decide.Contact) {
	for _, h := range d.Holdout {
		if heldWithin(history, h.CampaignID, d.Time) || !a.held.mark(d.CustomerID, h.CampaignID, d.Time) {
			a.metrics.holdoutsRepeated.Inc()
			continue
		}
		// The holdout happened at the decision, not when its batch is
		// written: a contact the client logs right after the decision
		// must come after it, or the campaign report would put a held-out
		// customer whose first event is that contact in the treatment.
		ev := protocol.ContactEvent{
			Time:       d.Time,
			CustomerID: d.CustomerID, Channel: d.Channel, Site: a.cfg.Site, Type: protocol.ContactOffer,
			Outcome: protocol.OutcomeHoldout, DecisionID: d.DecisionID, CampaignID: h.CampaignID,
		}
		if len(h.OfferIDs) > 0 {
			ev.OfferID = h.OfferIDs[0]
		}
		select {
		case a.holdouts <- ev:
		default:
			a.metrics.holdoutsDropped.Inc()
		}
	}
}

// holdoutVisit is how long one holdout of a campaign stands for the
// customer's visit: later decisions within it log none.
const holdoutVisit = time.Hour

// heldWithin reports whether history holds a holdout of campaign within
// holdoutVisit before now.
func heldWithin(history []decide.Contact, campaign string, now time.Time) bool {
	for i := range history {
		c := &history[i]
		if c.Outcome == protocol.OutcomeHoldout && c.CampaignID == campaign && !c.Time.Before(now.Add(-holdoutVisit)) {
			return true
		}
	}
	return false
}

// heldRecently remembers the holdouts this agent logged within
// holdoutVisit, for the decisions that run before a holdout reaches the
// customer's history (it is written in the background) and for
// concurrent decisions of one customer.
type heldRecently struct {
	mu sync.Mutex
	at map[heldKey]time.Time
}

type heldKey struct{ customer, campaign string }

// maxHeldRecently bounds heldRecently: past it, expired entries are
// dropped, and if that is not enough the oldest half goes (the history
// still holds them once written).
const maxHeldRecently = 100_000

// mark records a holdout of campaign for customer at now, unless one was
// recorded within holdoutVisit; it reports whether it recorded it.
func (h *heldRecently) mark(customer, campaign string, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := heldKey{customer, campaign}
	// Concurrent decisions read the clock before they get here, so the
	// entry may be a little later than now: still the same visit.
	if t, ok := h.at[k]; ok && now.Sub(t) < holdoutVisit {
		return false
	}
	if h.at == nil {
		h.at = map[heldKey]time.Time{}
	}
	if len(h.at) >= maxHeldRecently {
		h.prune(now)
	}
	h.at[k] = now
	return true
}

// prune drops expired entries, then, if still full, those older than the
// median.
func (h *heldRecently) prune(now time.Time) {
	for k, t := range h.at {
		if t.Before(now.Add(-holdoutVisit)) {
			delete(h.at, k)
		}
	}
	if len(h.at) < maxHeldRecently {
		return
	}
	ts := make([]time.Time, 0, len(h.at))
	for _, t := range h.at {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, time.Time.Compare)
	cut := ts[len(ts)/2]
	for k, t := range h.at {
		if t.Before(cut) {
			delete(h.at, k)
		}
	}
	if len(h.at) >= maxHeldRecently {
		clear(h.at) // one instant for all: keep none
	}
}

// runHoldouts appends queued holdout contacts until ctx ends: whatever
// queues within holdoutLinger of the first, or while the last batch
// committed, goes in one outbox commit and one history write (and so one
// frame to the control plane and one Raft entry there), so a stream of
// held-out decisions costs one fsync every holdoutLinger at most rather
// than one each. No decision waits for it, and nothing is acknowledged
// before its commit.
func (a *Agent) runHoldouts(ctx context.Context) {
	batch := make([]protocol.ContactEvent, 0, maxHoldoutBatch)
	linger := time.NewTimer(holdoutLinger)
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-a.holdouts:
			batch = append(batch[:0], ev)
		}
		linger.Reset(holdoutLinger)
	gather:
		for len(batch) < maxHoldoutBatch {
			select {
			case ev := <-a.holdouts:
				batch = append(batch, ev)
			case <-linger.C:
				break gather
			case <-ctx.Done():
				break gather // the append below fails on ctx: the agent is stopping
			}
		}
		linger.Stop()
		stored, err := a.outbox.AppendAll(ctx, batch)
		a.metrics.holdoutsLogged.Add(float64(len(stored)))
		if len(stored) > 0 {
			if herr := a.cache.AddContacts(stored, true); herr != nil {
				a.log.Warn("record holdouts in history", "error", herr)
			}
		}
		if err != nil && ctx.Err() == nil {
			a.metrics.holdoutsDropped.Add(float64(len(batch) - len(stored)))
			if !errors.Is(err, diskspace.ErrLow) { // watchDisk logs that once
				a.log.Warn("log holdout contacts", "error", err, "dropped", len(batch)-len(stored))
			}
		}
	}
}

// maxHoldoutBatch bounds one holdout commit; holdoutLinger is how long
// a batch gathers before it commits.
const (
	maxHoldoutBatch = 512
	holdoutLinger   = 5 * time.Millisecond
)

// appendContact logs ev (once per idempotency key, when idem is set:
// replayed says it was logged before) and adds it to the customer's
// history.
func (a *Agent) appendContact(ctx context.Context, ev protocol.ContactEvent, idem *outbox.Idempotency) (stored protocol.ContactEvent, replayed bool, err error) {
	if idem != nil {
		stored, replayed, err = a.outbox.AppendIdempotent(ctx, ev, *idem)
	} else {
		stored, err = a.outbox.Append(ctx, ev)
	}
	if err != nil || replayed {
		return stored, replayed, err
	}
	if err := a.cache.AddContacts([]protocol.ContactEvent{stored}, true); err != nil {
		a.log.Warn("record contact in history", "error", err)
	}
	return stored, false, nil
}

func newDecisionID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "d-" + hex.EncodeToString(b[:])
}
