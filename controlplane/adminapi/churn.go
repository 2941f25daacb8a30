package adminapi

import (
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/churnmodel"
)

// Churn models and the watchlist. Models are ordinary catalogue documents
// (kind Model), so they reach every agent through the change feed; these
// endpoints add what a plain apply cannot: the next version of an id, and
// activation, which flips the statuses of every model concerned in one
// Raft entry so that at most one is active. Two activations racing each
// other both rewrite the models they saw, and the later entry wins whole.

type modelStoreResult api.ModelStoreResult

func (r *modelStoreResult) index() uint64 { return r.Index }

type modelActivateResult api.ModelActivateResult

func (r *modelActivateResult) index() uint64 { return r.Index }

// decodeModel reads a stored Model document.
func decodeModel(o api.Object) (*protocol.Model, error) {
	var m protocol.Model
	if err := json.Unmarshal(o.Doc, &m); err != nil {
		return nil, api.Errorf(api.CodeInternal, "stored model %s: %v", o.ID, err)
	}
	return &m, nil
}

// proposeModels validates models (canonical form, as any apply) and
// writes them in one catalogue apply.
func (s *Server) proposeModels(ctx context.Context, q *request, models []*protocol.Model) (*applyResult, *fsm.Result, error) {
	p := fsm.CatalogApply{}
	for _, m := range models {
		raw, err := json.Marshal(m)
		if err != nil {
			return nil, nil, api.Errorf(api.CodeInternal, "encode model %s: %v", m.ID, err)
		}
		docs, err := s.docs.Parse(raw)
		if err != nil {
			return nil, nil, err
		}
		p.Docs = append(p.Docs, fsm.CatalogDoc{Kind: string(docs[0].Kind), ID: docs[0].ID, Doc: docs[0].JSON})
	}
	var out applyResult
	res, err := s.propose(ctx, q, fsm.CmdCatalogApply, p, &out)
	if err != nil {
		return nil, nil, err
	}
	return &out, res, nil
}

// storeModel is POST /v1/models: a JSON Model document stored as the next
// version of its id. Version, createdAt and status in the body are
// replaced: the version is the stored one's plus one (1 for a new id),
// createdAt the leader's clock, and the status the stored version's (a new
// id is inactive until activated), so retraining the active model's id
// replaces what agents score with.
func (s *Server) storeModel(ctx context.Context, q *request) (any, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(q.body, &fields); err != nil {
		return nil, api.Errorf(api.CodeInvalidJSON, "the body must be one JSON Model document: %v", err)
	}
	var head protocol.Header
	_ = json.Unmarshal(q.body, &head)
	if head.Kind != protocol.KindModel {
		return nil, &api.Error{Code: api.CodeInvalidField, Field: "kind", Message: fmt.Sprintf("POST /v1/models stores kind Model, not %q", head.Kind)}
	}
	version, status := 1, protocol.ModelInactive
	if prev, found, err := s.state.Get(string(protocol.KindModel), head.ID); err != nil {
		return nil, err
	} else if found {
		pm, err := decodeModel(prev)
		if err != nil {
			return nil, err
		}
		version, status = pm.Version+1, pm.Status
	}
	created := s.cfg.Now().UTC().Format(time.RFC3339)
	fields["version"], _ = json.Marshal(version)
	fields["status"], _ = json.Marshal(status)
	fields["createdAt"], _ = json.Marshal(created)
	raw, err := json.Marshal(fields)
	if err != nil {
		return nil, api.Errorf(api.CodeInternal, "%v", err)
	}
	docs, err := s.docs.Parse(raw)
	if err != nil {
		return nil, err
	}
	d := docs[0]
	var out applyResult
	res, err := s.propose(ctx, q, fsm.CmdCatalogApply, fsm.CatalogApply{Docs: []fsm.CatalogDoc{{Kind: string(d.Kind), ID: d.ID, Doc: d.JSON}}}, &out)
	if err != nil {
		return nil, err
	}
	return &modelStoreResult{Index: out.Index, ID: d.ID, Version: version, Status: status, CreatedAt: created, Bytes: len(d.JSON), Duplicate: res.Duplicate}, nil
}

// listModels is GET /v1/models: every model without its body.
func (s *Server) listModels(_ context.Context, _ *request) (any, error) {
	objs, err := s.state.List(string(protocol.KindModel))
	if err != nil {
		return nil, err
	}
	out := make([]api.ModelSummary, 0, len(objs))
	for _, o := range objs {
		m, err := decodeModel(o)
		if err != nil {
			return nil, err
		}
		sum := api.ModelSummary{ID: m.ID, ModelKind: m.ModelKind, Version: m.Version, Label: m.Label, Status: m.Status,
			CreatedAt: m.CreatedAt, Metrics: m.Metrics, Thresholds: m.Thresholds, Bytes: len(o.Doc), Index: o.Index}
		if m.Body != nil {
			sum.Features, sum.Inputs, sum.Trees = len(m.Body.Features), len(m.Body.Coefficients), len(m.Body.Trees)
			if err := m.Body.Prepare(); err == nil {
				sum.Inputs = m.Body.Encoder().Width()
			}
		}
		out = append(out, sum)
	}
	return out, nil
}

func (s *Server) activateModel(ctx context.Context, q *request) (any, error) {
	return s.setModelStatus(ctx, q, true)
}

func (s *Server) deactivateModel(ctx context.Context, q *request) (any, error) {
	return s.setModelStatus(ctx, q, false)
}

// setModelStatus activates (or deactivates) one model. Activating also
// deactivates every other active model, in the same entry.
func (s *Server) setModelStatus(ctx context.Context, q *request, active bool) (any, error) {
	id := q.r.PathValue("id")
	objs, err := s.state.List(string(protocol.KindModel))
	if err != nil {
		return nil, err
	}
	var target *protocol.Model
	var changed []*protocol.Model
	deactivated := []string{}
	for _, o := range objs {
		m, err := decodeModel(o)
		if err != nil {
			return nil, err
		}
		switch {
		case m.ID == id:
			target = m
		case active && m.IsActive():
			m.Status = protocol.ModelInactive
			changed = append(changed, m)
			deactivated = append(deactivated, m.ID)
		}
	}
	if target == nil {
		return nil, api.Errorf(api.CodeNotFound, "model %q does not exist; `touchpoint models ls` lists them", id)
	}
	want := protocol.ModelInactive
	if active {
		want = protocol.ModelActive
	}
	if target.Status != want {
		target.Status = want
		changed = append(changed, target)
	}
	if !active && target.IsActive() {
		deactivated = append(deactivated, target.ID)
	}
	out := &modelActivateResult{ID: target.ID, Version: target.Version, Status: want, Deactivated: deactivated}
	if len(changed) == 0 {
		_, _, _, applied := s.store.Indexes()
		out.Index = applied
		return out, nil
	}
	res, raw, err := s.proposeModels(ctx, q, changed)
	if err != nil {
		return nil, err
	}
	out.Index, out.Duplicate = res.Index, raw.Duplicate
	return out, nil
}

// watchlistState is what the watchlist reads; the FSM provides it.
type watchlistState interface {
	CustomerCounts() (int, map[string]int, error)
	CustomersInRegion(region, afterID string, limit int) ([]protocol.Profile, string, error)
}

// watchPage is how many profiles the watchlist reads at a time.
const watchPage = 1000

// churnWatchlist is GET /v1/churn/watchlist?level=high&limit=50&factors=3
// [&region=R]: it scores every stored profile (of one region, or all) with
// the active model, keeps the highest risks at or above the level's
// cut-off, and explains those. It reads state only; its cost is one score
// per profile (a few microseconds each), checked against the request's
// deadline between pages.
func (s *Server) churnWatchlist(ctx context.Context, q *request) (any, error) {
	qs := q.r.URL.Query()
	level := churnmodel.LevelHigh
	if v := qs.Get("level"); v != "" {
		if churnmodel.LevelRank(v) < 0 {
			return nil, &api.Error{Code: api.CodeInvalidField, Field: "level", Message: fmt.Sprintf("level %q: use one of %v", v, churnmodel.Levels)}
		}
		level = v
	}
	limit, err := intParam(qs.Get("limit"), "limit", api.DefaultWatchlistLimit, api.MaxWatchlistLimit)
	if err != nil {
		return nil, err
	}
	nFactors, err := intParam(qs.Get("factors"), "factors", api.DefaultWatchlistFactors, api.MaxWatchlistFactors)
	if err != nil {
		return nil, err
	}
	objs, err := s.state.List(string(protocol.KindModel))
	if err != nil {
		return nil, err
	}
	models := make([]protocol.Model, 0, len(objs))
	for _, o := range objs {
		m, err := decodeModel(o)
		if err != nil {
			return nil, err
		}
		models = append(models, *m)
	}
	active := protocol.ActiveModel(models)
	if active == nil {
		return nil, api.Errorf(api.CodeNoActiveModel, "no churn model is active: store one with `touchpoint models train` and run `touchpoint models activate ID`")
	}
	model := active.Body
	if err := model.Prepare(); err != nil {
		return nil, api.Errorf(api.CodeInvalidModel, "active model %s: %v", active.ID, err)
	}
	ws, ok := s.state.(watchlistState)
	if !ok {
		return nil, api.Errorf(api.CodeInternal, "this node's state does not hold customer profiles")
	}
	var regions []string
	if qs.Has("region") {
		r := qs.Get("region")
		if r != "" && !protocol.ValidAgentID(r) {
			return nil, &api.Error{Code: api.CodeInvalidField, Field: "region", Message: "a region is 1 to 128 ASCII letters, digits, '-', '_' or '.'"}
		}
		regions = []string{r}
	} else {
		_, by, err := ws.CustomerCounts()
		if err != nil {
			return nil, err
		}
		for r := range by {
			regions = append(regions, r)
		}
		slices.Sort(regions)
	}
	th := active.Thresholds
	minRisk := th.Min(level)
	out := api.Watchlist{Model: active.ID, ModelVersion: active.Version, Level: level, MinRisk: minRisk, Masked: masked(q.who), Customers: []api.WatchlistEntry{}}
	top := &riskHeap{}
	attrs := map[string]any{}
	for _, region := range regions {
		after := ""
		for {
			if err := ctx.Err(); err != nil {
				return nil, api.Errorf(api.CodeTimeout, "the watchlist scanned %d profiles before the request's deadline: narrow it with region=", out.Scanned)
			}
			page, next, err := ws.CustomersInRegion(region, after, watchPage)
			if err != nil {
				return nil, err
			}
			for i := range page {
				p := &page[i]
				out.Scanned++
				risk := model.Score(protocol.ScoringAttributes(p, attrs))
				if math.IsNaN(risk) {
					out.Unscored++ // too few of the model's features
					continue
				}
				if !(risk >= minRisk) {
					continue
				}
				out.Matched++
				e := scored{risk: risk, profile: p}
				if top.Len() == limit && !e.above((*top)[0]) {
					continue
				}
				kept := *p // not a pointer into the page, which can go
				e.profile = &kept
				if top.Len() < limit {
					heap.Push(top, e)
				} else {
					(*top)[0] = e
					heap.Fix(top, 0)
				}
			}
			if next == "" {
				break
			}
			after = next
		}
	}
	ranked := []scored(*top)
	slices.SortFunc(ranked, func(a, b scored) int {
		if a.above(b) {
			return -1
		}
		if b.above(a) {
			return 1
		}
		return 0
	})
	for _, e := range ranked {
		p := e.profile
		shown := p
		if out.Masked {
			shown = p.Masked()
		}
		_, factors, err := model.Explain(protocol.ScoringAttributes(p, attrs))
		if err != nil {
			return nil, api.Errorf(api.CodeInvalidModel, "active model %s: %v", active.ID, err)
		}
		top := make([]churnmodel.Factor, 0, nFactors)
		for _, f := range factors {
			if len(top) == nFactors || f.Contribution <= 0 {
				break
			}
			if v, ok := shown.Attributes[f.Feature]; ok {
				f.Value = v
			}
			top = append(top, f)
		}
		out.Customers = append(out.Customers, api.WatchlistEntry{CustomerID: p.ID, Region: p.Region, ChurnRisk: e.risk, ChurnLevel: th.Level(e.risk), Factors: top})
	}
	return out, nil
}

func intParam(v, field string, def, most int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		return 0, &api.Error{Code: api.CodeInvalidField, Field: field, Message: fmt.Sprintf("%s must be between 1 and %d", field, most)}
	}
	return n, nil
}

// scored is a profile and its risk; the watchlist keeps the highest
// risks in a min-heap, ties broken by id (lower id ranks higher).
type scored struct {
	risk    float64
	profile *protocol.Profile
}

func (a scored) above(b scored) bool {
	return a.risk > b.risk || (a.risk == b.risk && a.profile.ID < b.profile.ID)
}

type riskHeap []scored

func (h riskHeap) Len() int           { return len(h) }
func (h riskHeap) Less(i, j int) bool { return h[j].above(h[i]) }
func (h riskHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *riskHeap) Push(x any)        { *h = append(*h, x.(scored)) }
func (h *riskHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
