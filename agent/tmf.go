package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"

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

// TMFRef is a TMF entity reference.
type TMFRef struct {
	ID           string `json:"id"`
	Name         string `json:"name,omitempty"`
	Role         string `json:"role,omitempty"`
	Href         string `json:"href,omitempty"`
	ReferredType string `json:"@referredType,omitempty"`
}

// TMFQueryProductRecommendation is TMF680's QueryProductRecommendation, as
// asked and as answered.
type TMFQueryProductRecommendation struct {
	ID                        string                  `json:"id,omitempty"`
	Href                      string                  `json:"href,omitempty"`
	InstantSyncRecommendation bool                    `json:"instantSyncRecommendation"`
	State                     string                  `json:"state,omitempty"`
	Channel                   *TMFRef                 `json:"channel,omitempty"`
	RelatedParty              []TMFRef                `json:"relatedParty,omitempty"`
	Category                  []TMFRef                `json:"category,omitempty"`
	RecommendationItem        []TMFRecommendationItem `json:"recommendationItem,omitempty"`
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

func (a *Agent) tmfRecommend(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, api.DefaultDecisionBodyLimit))
	if err != nil {
		a.refuse(w, r, api.Errorf(api.CodeBodyTooLarge, msgBodyTooLarge))
		return
	}
	var q TMFQueryProductRecommendation
	if aerr := decodeStrict(body, &q); aerr != nil {
		a.refuse(w, r, aerr)
		return
	}
	if !q.InstantSyncRecommendation {
		a.refuse(w, r, &api.Error{Code: api.CodeInvalidField, Field: "instantSyncRecommendation",
			Message: "only instant (synchronous) recommendations are served: set it to true"})
		return
	}
	req := api.DecisionRequest{Channel: a.cfg.Channel}
	if q.Channel != nil {
		req.Channel = q.Channel.ID
		if req.Channel == "" {
			req.Channel = q.Channel.Name
		}
	}
	for _, p := range q.RelatedParty {
		if p.Role == "" || p.Role == "customer" || p.Role == "Customer" {
			req.CustomerID = p.ID
			break
		}
	}
	if len(q.Category) > 0 {
		req.Intent = q.Category[0].ID
		if req.Intent == "" {
			req.Intent = q.Category[0].Name
		}
	}
	if err := req.Validate(); err != nil {
		ae := asAPIError(err)
		switch ae.Field {
		case "customerId":
			ae.Field = "relatedParty"
		case "channel":
			ae.Field = "channel.id"
		case "intent":
			ae.Field = "category"
		}
		a.refuse(w, r, ae)
		return
	}
	d, aerr := a.Decide(r.Context(), req)
	if aerr != nil {
		a.refuse(w, r, aerr)
		return
	}
	out := TMFQueryProductRecommendation{
		ID: d.DecisionID, Href: tmfRecommendationPath + "/" + d.DecisionID,
		InstantSyncRecommendation: true, State: "done",
		Channel:      &TMFRef{ID: d.Channel, ReferredType: "Channel"},
		RelatedParty: []TMFRef{{ID: d.CustomerID, Role: "customer", ReferredType: "Customer", Href: tmfCustomerPath + d.CustomerID}},
		Category:     q.Category,
		Type:         "QueryProductRecommendation",
	}
	out.RecommendationItem = []TMFRecommendationItem{}
	for _, o := range d.Offers {
		out.RecommendationItem = append(out.RecommendationItem, TMFRecommendationItem{
			ID: strconv.Itoa(o.Rank), Priority: o.Rank, Score: o.Score, CampaignID: o.CampaignID, Reason: o.Reason,
			ProductOffering: TMFRef{ID: o.OfferID, Name: o.Name, ReferredType: "ProductOffering"},
		})
	}
	api.WriteJSON(w, http.StatusOK, out)
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
