package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"touchpoint.dev/touchpoint/controlplane/catalog"
	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

type applyResult api.ApplyResult

func (a *applyResult) index() uint64 { return a.Index }

type writeResult api.WriteResult

func (a *writeResult) index() uint64 { return a.Index }

// propose stamps a command with the leader's clock and the caller, applies
// it through Raft and decodes its result into out.
func (s *Server) propose(ctx context.Context, q *request, t fsm.CommandType, payload any, out any) (*fsm.Result, error) {
	env := fsm.Envelope{RequestID: q.reqID, Time: s.cfg.Now().UnixNano(), Actor: q.who.ID, Role: q.who.Role}
	cmd, err := fsm.Encode(t, 0, env, payload)
	if err != nil {
		return nil, api.Errorf(api.CodeBodyTooLarge, "%v", err)
	}
	res, err := s.store.Apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	if res.Err != nil {
		return nil, res.Err
	}
	if out != nil && len(res.Data) > 0 {
		if err := json.Unmarshal(res.Data, out); err != nil {
			return nil, api.Errorf(api.CodeInternal, "decode result: %v", err)
		}
	}
	return res, nil
}

func (s *Server) applyCatalog(ctx context.Context, q *request) (any, error) {
	docs, err := s.docs.Parse(q.body)
	if err != nil {
		return nil, err
	}
	p := fsm.CatalogApply{Docs: make([]fsm.CatalogDoc, len(docs))}
	for i, d := range docs {
		cd := fsm.CatalogDoc{Kind: string(d.Kind), ID: d.ID, Doc: d.JSON}
		for _, r := range d.Refs {
			cd.Refs = append(cd.Refs, fsm.ObjectRef{Kind: string(r.Kind), ID: r.ID})
		}
		p.Docs[i] = cd
	}
	var out applyResult
	res, err := s.propose(ctx, q, fsm.CmdCatalogApply, p, &out)
	if err != nil {
		return nil, err
	}
	out.Duplicate = res.Duplicate
	out.Warnings = s.catalogWarnings(docs)
	return &out, nil
}

// catalogWarnings reads the catalogue as the apply left it and warns of
// the campaigns it touched (applied, or listing an applied offer) that
// name channels none of their offers can be presented on: every decision
// would list those offers as wrong_channel. Best effort: a read that fails
// gives no warning.
func (s *Server) catalogWarnings(docs []catalog.Doc) []api.ApplyWarning {
	touched := map[string]bool{}
	offersApplied := map[string]bool{}
	for _, d := range docs {
		switch d.Kind {
		case protocol.KindCampaign:
			touched[d.ID] = true
		case protocol.KindOffer:
			offersApplied[d.ID] = true
		}
	}
	if len(touched) == 0 && len(offersApplied) == 0 {
		return nil
	}
	campaigns, err := s.state.List(string(protocol.KindCampaign))
	if err != nil {
		return nil
	}
	offers, err := s.state.List(string(protocol.KindOffer))
	if err != nil {
		return nil
	}
	channels := make(map[string][]string, len(offers))
	for _, o := range offers {
		var doc protocol.Offer
		if json.Unmarshal(o.Doc, &doc) == nil {
			channels[o.ID] = doc.Channels
		}
	}
	var out []api.ApplyWarning
	for _, c := range campaigns {
		var doc protocol.Campaign
		if json.Unmarshal(c.Doc, &doc) != nil || len(doc.Channels) == 0 || len(doc.Offers) == 0 {
			continue // on every channel, or nothing to present
		}
		if !touched[c.ID] && !slices.ContainsFunc(doc.Offers, func(o string) bool { return offersApplied[o] }) {
			continue
		}
		var where []string
		presentable := false
		for _, o := range doc.Offers {
			ch, ok := channels[o]
			if !ok {
				continue
			}
			if len(ch) == 0 || slices.ContainsFunc(ch, func(x string) bool { return slices.Contains(doc.Channels, x) }) {
				presentable = true
				break
			}
			where = append(where, fmt.Sprintf("%s: %s", o, strings.Join(ch, ",")))
		}
		if !presentable && len(where) > 0 {
			out = append(out, api.ApplyWarning{Kind: string(protocol.KindCampaign), ID: c.ID, Code: api.WarnNoChannelInCommon,
				Message: fmt.Sprintf("runs on %s, but none of its offers can be presented there (%s): every decision lists them as wrong_channel",
					strings.Join(doc.Channels, ","), strings.Join(where, "; "))})
		}
	}
	return out
}

func kindParam(r *http.Request) (protocol.Kind, error) {
	k, ok := protocol.KindFromPlural(r.PathValue("kind"))
	if !ok {
		return "", api.Errorf(api.CodeUnknownKind, "unknown kind %q; kinds are offers, plans, campaigns, policies", r.PathValue("kind"))
	}
	return k, nil
}

func (s *Server) listCatalog(_ context.Context, q *request) (any, error) {
	k, err := kindParam(q.r)
	if err != nil {
		return nil, err
	}
	return s.state.List(string(k))
}

func (s *Server) getCatalog(_ context.Context, q *request) (any, error) {
	k, err := kindParam(q.r)
	if err != nil {
		return nil, err
	}
	id := q.r.PathValue("id")
	o, found, err := s.state.Get(string(k), id)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, api.Errorf(api.CodeNotFound, "%s %q does not exist", k, id)
	}
	return o, nil
}

func (s *Server) deleteCatalog(ctx context.Context, q *request) (any, error) {
	k, err := kindParam(q.r)
	if err != nil {
		return nil, err
	}
	var out writeResult
	res, err := s.propose(ctx, q, fsm.CmdCatalogDelete, fsm.CatalogDelete{Kind: string(k), ID: q.r.PathValue("id")}, &out)
	if err != nil {
		return nil, err
	}
	out.Duplicate = res.Duplicate
	return &out, nil
}

// maxChangesWait bounds a long poll of the change feed.
const maxChangesWait = 25 * time.Second

func (s *Server) changes(ctx context.Context, q *request) (any, error) {
	qs := q.r.URL.Query()
	var after uint64
	if v := qs.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, &api.Error{Code: api.CodeInvalidField, Field: "after", Message: "after must be a log index (a whole number)"}
		}
		after = n
	}
	limit := 1000
	if v := qs.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return nil, &api.Error{Code: api.CodeInvalidField, Field: "limit", Message: "limit must be between 1 and 10000"}
		}
		limit = n
	}
	var wait time.Duration
	if v := qs.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, &api.Error{Code: api.CodeInvalidField, Field: "wait", Message: `wait must be a duration such as "10s"`}
		}
		wait = min(d, maxChangesWait)
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		ch := s.state.Changed()
		feed, err := s.state.Changes(after, limit)
		if err != nil {
			return nil, err
		}
		if feed.Snapshot || len(feed.Changes) > 0 || wait == 0 {
			return maskFeed(feed, q.who)
		}
		select {
		case <-ch:
		case <-deadline.C:
			return maskFeed(feed, q.who)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return feed, nil
			}
			return nil, ctx.Err()
		}
	}
}

// maskFeed masks the personal data of the customer profiles a change feed
// carries, for every role but admin, as GET /v1/customers does: the feed
// would otherwise hand any token every profile in the clear.
func maskFeed(feed api.ChangeFeed, who api.TokenInfo) (api.ChangeFeed, error) {
	if !masked(who) {
		return feed, nil
	}
	mask := func(doc json.RawMessage) (json.RawMessage, error) {
		var p protocol.Profile
		if err := json.Unmarshal(doc, &p); err != nil {
			return nil, api.Errorf(api.CodeInternal, "decode a profile of the feed: %v", err)
		}
		return json.Marshal(p.Masked())
	}
	var err error
	for i := range feed.Changes {
		c := &feed.Changes[i]
		if c.Kind == fsm.KindCustomer && c.Op == api.OpPut && len(c.Doc) > 0 {
			if c.Doc, err = mask(c.Doc); err != nil {
				return feed, err
			}
		}
	}
	for i := range feed.Objects {
		o := &feed.Objects[i]
		if o.Kind == fsm.KindCustomer && len(o.Doc) > 0 {
			if o.Doc, err = mask(o.Doc); err != nil {
				return feed, err
			}
		}
	}
	return feed, nil
}
