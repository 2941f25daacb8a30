package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// TM Forum-style endpoints for kiosk integrators, backed by the same
// decision engine and cache as /v1: TMF680 Recommendation Management
// (queryProductRecommendation) and TMF629 Customer Management (customer).
// Only the fields Touchpoint can fill are written; see docs/openapi.yaml.
const (
	tmfRecommendationPath = "/tmf-api/recommendationManagement/v4/queryProductRecommendation"
	tmfCustomerPath       = "/tmf-api/customerManagement/v4/customer/"
)

// TMFRef is a TMF entity reference, as the agent answers it.
type TMFRef struct {
	ID           string `json:"id"`
	Name         string `json:"name,omitempty"`
	Role         string `json:"role,omitempty"`
	Href         string `json:"href,omitempty"`
	ReferredType string `json:"@referredType,omitempty"`
}

// TMFQueryProductRecommendation is TMF680's QueryProductRecommendation as
// the agent answers it. RecommendationItem is always there, [] when
// nothing is offered. Requests are read by decodeTMFQuery, not into this.
type TMFQueryProductRecommendation struct {
	ID                        string                  `json:"id,omitempty"`
	Href                      string                  `json:"href,omitempty"`
	InstantSyncRecommendation bool                    `json:"instantSyncRecommendation"`
	State                     string                  `json:"state,omitempty"`
	Channel                   *TMFRef                 `json:"channel,omitempty"`
	RelatedParty              []TMFRef                `json:"relatedParty,omitempty"`
	Category                  []TMFRef                `json:"category,omitempty"`
	RecommendationItem        []TMFRecommendationItem `json:"recommendationItem"`
	Type                      string                  `json:"@type,omitempty"`
}

// TMFRecommendationItem is one recommended offering.
type TMFRecommendationItem struct {
	ID              string  `json:"id"`
	Priority        int     `json:"priority"`
	ProductOffering TMFRef  `json:"productOffering"`
	Score           float64 `json:"score"`
	CampaignID      string  `json:"campaignId,omitempty"`
	Reason          string  `json:"reason,omitempty"`
}

// tmfRefIn is what the agent reads of a TMF reference in a request: the
// rest of it (href, @type, @referredType, version, …) is ignored.
type tmfRefIn struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
	path string // where it is in the body: "channel", "relatedParty[1]"
}

// decodeTMFQuery reads a TMF680 QueryProductRecommendation body into the
// decision it asks for, and the categories to echo. It is lenient as TMF
// APIs are (TMF630: resources are extended through @type and
// @schemaLocation, so a server ignores what it does not know): only
// instantSyncRecommendation, channel, relatedParty and category are read,
// and every other member, at any level, is ignored whatever its type. A
// member it reads must have the right type, and errors name its path
// (relatedParty[0].id). channel, relatedParty and category may each be one
// object or an array of them: TMF680 v4 has channel and category as
// arrays and relatedParty as one object; this API had the opposite for
// channel and relatedParty. The customer is the first party with role
// "customer" (any case), else the first without a role; the channel the
// first channel's id (else name), agentChannel when there is none; the
// intent the first category's id (else name). It is pure (fuzzed).
func decodeTMFQuery(body []byte, agentChannel string) (api.DecisionRequest, []TMFRef, *api.Error) {
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&top); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return api.DecisionRequest{}, nil, api.Errorf(api.CodeInvalidJSON, msgEmptyBody)
		case errors.As(err, &te):
			return api.DecisionRequest{}, nil, api.Errorf(api.CodeInvalidJSON, msgNotAnObject)
		}
		return api.DecisionRequest{}, nil, api.Errorf(api.CodeInvalidJSON, "%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return api.DecisionRequest{}, nil, api.Errorf(api.CodeInvalidJSON, msgTrailing)
	}
	if top == nil { // the body is null
		return api.DecisionRequest{}, nil, api.Errorf(api.CodeInvalidJSON, msgNotAnObject)
	}
	var instant bool
	if raw := member(top, "instantSyncRecommendation"); raw != nil {
		if err := json.Unmarshal(raw, &instant); err != nil {
			return api.DecisionRequest{}, nil, typeError(err, "instantSyncRecommendation")
		}
	}
	if !instant {
		return api.DecisionRequest{}, nil, &api.Error{Code: api.CodeInvalidField, Field: "instantSyncRecommendation",
			Message: "only instant (synchronous) recommendations are served: set it to true"}
	}
	channels, aerr := decodeTMFRefs(member(top, "channel"), "channel")
	if aerr != nil {
		return api.DecisionRequest{}, nil, aerr
	}
	parties, aerr := decodeTMFRefs(member(top, "relatedParty"), "relatedParty")
	if aerr != nil {
		return api.DecisionRequest{}, nil, aerr
	}
	categories, aerr := decodeTMFRefs(member(top, "category"), "category")
	if aerr != nil {
		return api.DecisionRequest{}, nil, aerr
	}

	customer, aerr := customerParty(parties)
	if aerr != nil {
		return api.DecisionRequest{}, nil, aerr
	}
	if customer == nil {
		return api.DecisionRequest{}, nil, &api.Error{Code: api.CodeMissingField, Field: "relatedParty", Message: msgNoCustomerParty}
	}
	req := api.DecisionRequest{CustomerID: customer.ID, Channel: agentChannel}
	channelField := ""
	if len(channels) > 0 {
		req.Channel, channelField = channels[0].idOrName()
	}
	intentField := ""
	if len(categories) > 0 {
		req.Intent, intentField = categories[0].idOrName()
	}
	if err := req.Validate(); err != nil {
		ae := asAPIError(err)
		switch ae.Field {
		case "customerId":
			ae.Field = customer.path + ".id"
		case "channel":
			ae.Field = channelField
		case "intent":
			ae.Field = intentField
		}
		return api.DecisionRequest{}, nil, ae
	}
	var echo []TMFRef
	for _, c := range categories {
		echo = append(echo, TMFRef{ID: c.ID, Name: c.Name})
	}
	return req, echo, nil
}

// member is top's member name, matched as encoding/json matches a struct
// field: exactly, else ignoring case.
func member(top map[string]json.RawMessage, name string) json.RawMessage {
	if raw, ok := top[name]; ok {
		return raw
	}
	for k, raw := range top {
		if strings.EqualFold(k, name) {
			return raw
		}
	}
	return nil
}

// decodeTMFRefs reads the member field of a request: absent or null, one
// reference object, or an array of them.
func decodeTMFRefs(raw json.RawMessage, field string) ([]tmfRefIn, *api.Error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, nil
	case raw[0] == '{':
		r, aerr := decodeTMFRef(raw, field)
		if aerr != nil {
			return nil, aerr
		}
		return []tmfRefIn{r}, nil
	case raw[0] != '[':
		return nil, &api.Error{Code: api.CodeInvalidField, Field: field, Message: msgRefShape + jsonKind(raw)}
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, typeError(err, field)
	}
	refs := make([]tmfRefIn, 0, len(elems))
	for i, e := range elems {
		r, aerr := decodeTMFRef(bytes.TrimSpace(e), field+"["+strconv.Itoa(i)+"]")
		if aerr != nil {
			return nil, aerr
		}
		refs = append(refs, r)
	}
	return refs, nil
}

func decodeTMFRef(raw json.RawMessage, path string) (tmfRefIn, *api.Error) {
	if len(raw) == 0 || raw[0] != '{' {
		return tmfRefIn{}, &api.Error{Code: api.CodeInvalidField, Field: path, Message: msgExpected + "an object, got " + jsonKind(raw)}
	}
	var r tmfRefIn
	if err := json.Unmarshal(raw, &r); err != nil {
		return tmfRefIn{}, typeError(err, path)
	}
	r.path = path
	return r, nil
}

// customerParty is the party the recommendation is for: the one with
// role customer, else the one without a role; nil when there is none. Two
// of them are refused: deciding for either would answer with the offers
// of a customer the client may not have meant (and show them to the
// other).
func customerParty(parties []tmfRefIn) (*tmfRefIn, *api.Error) {
	pick := func(match func(tmfRefIn) bool, what string) (*tmfRefIn, *api.Error) {
		var found *tmfRefIn
		for i := range parties {
			if !match(parties[i]) {
				continue
			}
			if found != nil {
				return nil, &api.Error{Code: api.CodeInvalidField, Field: parties[i].path,
					Message: fmt.Sprintf(msgTwoCustomerParties, found.path, parties[i].path, what)}
			}
			found = &parties[i]
		}
		return found, nil
	}
	c, aerr := pick(func(p tmfRefIn) bool { return strings.EqualFold(p.Role, "customer") }, `role "customer"`)
	if c != nil || aerr != nil {
		return c, aerr
	}
	return pick(func(p tmfRefIn) bool { return p.Role == "" }, "no role (and none has role \"customer\")")
}

// idOrName is the reference's id, else its name, and the path of the one
// taken (of id when both are empty).
func (r tmfRefIn) idOrName() (value, field string) {
	if r.ID == "" && r.Name != "" {
		return r.Name, r.path + ".name"
	}
	return r.ID, r.path + ".id"
}

// typeError is err, from decoding the member at path, as the API's error.
func typeError(err error, path string) *api.Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		e := api.TypeError(te)
		if e.Field = path; te.Field != "" {
			e.Field += "." + te.Field
		}
		return e
	}
	return &api.Error{Code: api.CodeInvalidField, Field: path, Message: err.Error()}
}

// jsonKind names the kind of the JSON value raw starts.
func jsonKind(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

func (a *Agent) tmfRecommend(w http.ResponseWriter, r *http.Request) {
	body, ok := a.readBody(w, r, api.DefaultDecisionBodyLimit)
	if !ok {
		return
	}
	req, category, aerr := decodeTMFQuery(body, a.cfg.Channel)
	if aerr != nil {
		a.refuse(w, r, aerr)
		return
	}
	d, aerr := a.Decide(r.Context(), req)
	if aerr != nil {
		a.refuse(w, r, aerr)
		return
	}
	api.WriteJSON(w, http.StatusOK, tmfAnswer(d, category))
}

// tmfAnswer is decision d as a TMF680 answer, echoing the categories asked.
func tmfAnswer(d api.Decision, category []TMFRef) TMFQueryProductRecommendation {
	out := TMFQueryProductRecommendation{
		ID: d.DecisionID, Href: tmfRecommendationPath + "/" + d.DecisionID,
		InstantSyncRecommendation: true, State: "done",
		Channel:            &TMFRef{ID: d.Channel, ReferredType: "Channel"},
		RelatedParty:       []TMFRef{{ID: d.CustomerID, Role: "customer", ReferredType: "Customer", Href: tmfCustomerPath + d.CustomerID}},
		Category:           category,
		RecommendationItem: make([]TMFRecommendationItem, 0, len(d.Offers)),
		Type:               "QueryProductRecommendation",
	}
	for _, o := range d.Offers {
		out.RecommendationItem = append(out.RecommendationItem, TMFRecommendationItem{
			ID: strconv.Itoa(o.Rank), Priority: o.Rank, Score: o.Score, CampaignID: o.CampaignID, Reason: o.Reason,
			ProductOffering: TMFRef{ID: o.OfferID, Name: o.Name, ReferredType: "ProductOffering"},
		})
	}
	return out
}

// TMFCustomer is TMF629's Customer with what the agent holds: personal
// data masked (the agent API has no roles), attributes and derived fields
// as characteristics.
type TMFCustomer struct {
	ID             string              `json:"id"`
	Href           string              `json:"href"`
	Name           string              `json:"name,omitempty"`
	Status         string              `json:"status"`
	EngagedParty   TMFRef              `json:"engagedParty"`
	ContactMedium  []TMFContactMedium  `json:"contactMedium,omitempty"`
	Characteristic []TMFCharacteristic `json:"characteristic"`
	Type           string              `json:"@type"`
}

// TMFContactMedium is a way to reach the customer (masked).
type TMFContactMedium struct {
	MediumType     string            `json:"mediumType"`
	Characteristic map[string]string `json:"characteristic"`
}

// TMFCharacteristic is one named value.
type TMFCharacteristic struct {
	Name      string `json:"name"`
	Value     any    `json:"value"`
	ValueType string `json:"valueType"`
}

func (a *Agent) tmfCustomer(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !protocol.ValidAgentID(id) {
		a.refuse(w, r, &api.Error{Code: api.CodeInvalidField, Field: "id", Message: "must be 1 to 128 ASCII letters, digits, '-', '_' or '.'"})
		return
	}
	p, aerr := a.profile(r.Context(), id)
	if aerr != nil {
		a.refuse(w, r, aerr)
		return
	}
	m := p.Masked()
	c := TMFCustomer{ID: p.ID, Href: tmfCustomerPath + p.ID, Status: "Approved", Type: "Customer",
		EngagedParty: TMFRef{ID: p.ID, ReferredType: "Individual"}, Characteristic: []TMFCharacteristic{}}
	if p.DoNotDisturb {
		c.Status = "DoNotDisturb"
	}
	keys := make([]string, 0, len(m.Attributes))
	for k := range m.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m.Attributes[k]
		switch {
		case slices.Contains([]string{"name", "fullname"}, normalized(k)) && c.Name == "":
			c.Name = fmt.Sprint(v)
		case protocol.IsPII(k) && isPhone(k):
			c.ContactMedium = append(c.ContactMedium, TMFContactMedium{MediumType: "phone", Characteristic: map[string]string{"phoneNumber": fmt.Sprint(v)}})
		case protocol.IsPII(k) && normalized(k) == "email":
			c.ContactMedium = append(c.ContactMedium, TMFContactMedium{MediumType: "email", Characteristic: map[string]string{"emailAddress": fmt.Sprint(v)}})
		default:
			c.Characteristic = append(c.Characteristic, characteristic(k, v))
		}
	}
	dkeys := make([]string, 0, len(p.Derived))
	for k := range p.Derived {
		dkeys = append(dkeys, k)
	}
	sort.Strings(dkeys)
	for _, k := range dkeys {
		c.Characteristic = append(c.Characteristic, characteristic(k, p.Derived[k]))
	}
	api.WriteJSON(w, http.StatusOK, c)
}

func characteristic(name string, v any) TMFCharacteristic {
	t := "string"
	switch v.(type) {
	case float64, json.Number:
		t = "number"
	case bool:
		t = "boolean"
	}
	return TMFCharacteristic{Name: name, Value: v, ValueType: t}
}

func normalized(k string) string {
	b := make([]byte, 0, len(k))
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != '_' && c != '-' && c != ' ' {
			b = append(b, c)
		}
	}
	return string(b)
}

func isPhone(k string) bool {
	return slices.Contains([]string{"phone", "mobile", "msisdn", "phonenumber", "tel"}, normalized(k))
}
