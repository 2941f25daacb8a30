package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// Customer profiles: POST /v1/customers stores a batch in one Raft entry,
// GET /v1/customers/{id} is the 360° view (masked unless admin), GET
// /v1/customers?region= pages a region, DELETE /v1/customers/{id} erases.

// customerState is what the customer endpoints read; the FSM provides it.
type customerState interface {
	Customer(id string) (*protocol.Profile, error)
	CustomersInRegion(region, afterID string, limit int) ([]protocol.Profile, string, error)
	RecentContacts(customer string, limit int) ([]protocol.ContactEvent, error)
}

func (s *Server) customerState() (customerState, error) {
	cs, ok := s.state.(customerState)
	if !ok {
		return nil, api.Errorf(api.CodeInternal, "this node's state does not hold customer profiles")
	}
	return cs, nil
}

// Customer page sizes.
const (
	defaultCustomerPage = 100
	maxCustomerPage     = 1000
	// maxEraseSteps bounds the entries one erase proposes (each moves up to
	// 20,000 ledger events).
	maxEraseSteps = 1000
)

type customersResult api.CustomersResult

func (r *customersResult) index() uint64 { return r.Index }

type eraseResult api.CustomerEraseResult

func (r *eraseResult) index() uint64 { return r.Index }

// decodeProfiles reads a JSON array of profiles strictly, locating every
// error at its profile's position. The common form takes protocol's fast
// decoder; anything else (and every error) goes through encoding/json.
func decodeProfiles(body []byte) ([]protocol.Profile, error) {
	if ps, ok := protocol.DecodeProfilesJSON(body); ok {
		if len(ps) > api.MaxCustomersPerRequest {
			return nil, api.Errorf(api.CodeBodyTooLarge, "more than %d profiles in one request; send them in batches", api.MaxCustomersPerRequest)
		}
		return ps, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, api.Errorf(api.CodeInvalidJSON, "the body must be a JSON array of customer profiles")
	}
	var out []protocol.Profile
	for i := 0; dec.More(); i++ {
		if i >= api.MaxCustomersPerRequest {
			return nil, api.Errorf(api.CodeBodyTooLarge, "more than %d profiles in one request; send them in batches", api.MaxCustomersPerRequest)
		}
		var p protocol.Profile
		if err := dec.Decode(&p); err != nil {
			return nil, jsonError(err).InDocument(i, "")
		}
		out = append(out, p)
	}
	if _, err := dec.Token(); err != nil {
		return nil, api.Errorf(api.CodeInvalidJSON, "%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, api.Errorf(api.CodeInvalidJSON, "trailing data after the JSON array")
	}
	return out, nil
}

// jsonError maps a decoding error to a stable code, naming the field.
func jsonError(err error) *api.Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return api.TypeError(te)
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &api.Error{Code: api.CodeUnknownField, Field: strings.Trim(f, `"`), Message: "unknown field " + f}
	}
	return api.Errorf(api.CodeInvalidJSON, "%v", err)
}

func (s *Server) upsertCustomers(ctx context.Context, q *request) (any, error) {
	profiles, err := decodeProfiles(q.body)
	if err != nil {
		return nil, err
	}
	if len(profiles) == 0 {
		return nil, api.Errorf(api.CodeMissingField, "the array holds no profiles")
	}
	for i := range profiles {
		if err := profiles[i].Validate(); err != nil {
			return nil, api.Errorf(api.CodeInvalidField, "%v", err).InDocument(i, "")
		}
	}
	p := fsm.CustomersUpsert{Profiles: profiles}
	payload, err := p.MarshalBinary()
	if err != nil {
		return nil, api.Errorf(api.CodeInvalidField, "%v", err)
	}
	if len(payload) > fsm.MaxCustomersPayload {
		return nil, api.Errorf(api.CodeBodyTooLarge, "the profiles take %d bytes; one request may carry %d: send fewer", len(payload), fsm.MaxCustomersPayload)
	}
	var fr fsm.CustomersResult
	res, err := s.propose(ctx, q, fsm.CmdCustomersUpsert, fsm.RawPayload(payload), &fr)
	if err != nil {
		return nil, err
	}
	return &customersResult{Index: res.Index, Upserted: fr.Upserted, Created: fr.Created, Duplicate: res.Duplicate}, nil
}

// masked reports whether the caller sees customers' personal data masked.
func masked(who api.TokenInfo) bool { return who.Role != api.RoleAdmin }

func (s *Server) getCustomer(_ context.Context, q *request) (any, error) {
	cs, err := s.customerState()
	if err != nil {
		return nil, err
	}
	id := q.r.PathValue("id")
	p, err := cs.Customer(id)
	if err != nil {
		return nil, err
	}
	v := api.CustomerView{Masked: masked(q.who), RecentContacts: []protocol.ContactEvent{}}
	if v.Masked {
		p = p.Masked()
	}
	v.ID, v.Region, v.DoNotDisturb, v.Index = p.ID, p.Region, p.DoNotDisturb, p.Index
	v.Attributes, v.Consents, v.Derived = p.Attributes, p.Consents, p.Derived
	if v.Attributes == nil {
		v.Attributes = map[string]any{}
	}
	if v.Consents == nil {
		v.Consents = map[string]bool{}
	}
	if v.Derived == nil {
		v.Derived = map[string]any{}
	}
	// The ledger is for the roles that may read it.
	if slices.Contains(ledgerReaders, q.who.Role) {
		if v.RecentContacts, err = cs.RecentContacts(id, api.RecentContactsLimit); err != nil {
			return nil, err
		}
	} else {
		v.ContactsHidden = true
	}
	return v, nil
}

func (s *Server) listCustomers(_ context.Context, q *request) (any, error) {
	cs, err := s.customerState()
	if err != nil {
		return nil, err
	}
	qs := q.r.URL.Query()
	if !qs.Has("region") {
		return nil, &api.Error{Code: api.CodeMissingField, Field: "region", Message: "give the region: ?region=R (region= for customers without one)"}
	}
	region := qs.Get("region")
	if region != "" && !protocol.ValidAgentID(region) {
		return nil, &api.Error{Code: api.CodeInvalidField, Field: "region", Message: "a region is 1 to 128 ASCII letters, digits, '-', '_' or '.'"}
	}
	limit := defaultCustomerPage
	if v := qs.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxCustomerPage {
			return nil, &api.Error{Code: api.CodeInvalidField, Field: "limit", Message: "limit must be between 1 and 1000"}
		}
		limit = n
	}
	list, next, err := cs.CustomersInRegion(region, qs.Get("after"), limit)
	if err != nil {
		return nil, err
	}
	page := api.CustomerPage{Customers: list, Next: next, Masked: masked(q.who)}
	if page.Masked {
		for i := range page.Customers {
			page.Customers[i] = *page.Customers[i].Masked()
		}
	}
	return page, nil
}

func (s *Server) eraseCustomer(ctx context.Context, q *request) (any, error) {
	id := q.r.PathValue("id")
	var first fsm.CustomerEraseResult
	res, err := s.propose(ctx, q, fsm.CmdCustomerErase, fsm.CustomerErase{ID: id}, &first)
	if err != nil {
		return nil, err
	}
	out := &eraseResult{Index: res.Index, AnonymizedEvents: first.Anonymized, Duplicate: res.Duplicate}
	// A ledger too long for one entry is moved by further entries; the
	// first one deleted the profile and told the agents.
	more := first.More
	for step := 0; more && step < maxEraseSteps; step++ {
		var r fsm.CustomerEraseResult
		cq := &request{r: q.r, who: q.who}
		if _, err := s.propose(ctx, cq, fsm.CmdCustomerErase, fsm.CustomerErase{ID: id}, &r); err != nil {
			if api.CodeOf(err) == api.CodeNotFound {
				break // a retried request already moved the rest
			}
			return nil, err
		}
		out.AnonymizedEvents += r.Anonymized
		more = r.More
	}
	return out, nil
}
