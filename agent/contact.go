package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"strings"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// ContactRequest is the body of POST /v1/contacts: one contact and its
// outcome. Channel defaults to the agent's. CustomerID follows the rule of
// every customer id (protocol.ValidAgentID); the other ids are optional and
// need not name anything the agent knows (a customer or an offer the cache
// does not hold is still logged). A contact that names an offer but no
// campaign is given the offer's campaign when the catalogue has exactly one
// (fillCampaign).
type ContactRequest struct {
	CustomerID string   `json:"customerId"`
	Channel    string   `json:"channel,omitempty"`
	Type       string   `json:"type"`
	Outcome    string   `json:"outcome"`
	OfferID    string   `json:"offerId,omitempty"`
	CampaignID string   `json:"campaignId,omitempty"`
	DecisionID string   `json:"decisionId,omitempty"`
	Value      *float64 `json:"value,omitempty"`
}

// ContactAccepted answers POST /v1/contacts once the event is on disk.
type ContactAccepted struct {
	// EventID is "<agent id>:<sequence>", the event's identity everywhere.
	EventID string `json:"eventId"`
	Seq     uint64 `json:"seq"`
}

// Limits of a contact request.
const maxContactBody = 64 << 10

// decodeContact decodes and checks a contact request strictly: unknown
// fields, trailing data, wrong types and bad values are refused with a
// stable code and the field at fault. It is pure (fuzzed).
func decodeContact(body []byte, agentChannel string) (protocol.ContactEvent, *api.Error) {
	var req ContactRequest
	if err := decodeStrict(body, &req); err != nil {
		return protocol.ContactEvent{}, err
	}
	if req.Channel == "" {
		req.Channel = agentChannel
	}
	switch {
	case req.CustomerID == "":
		return protocol.ContactEvent{}, &api.Error{Code: api.CodeMissingField, Field: "customerId", Message: msgRequired}
	case !protocol.ValidAgentID(req.CustomerID):
		// The rule of every customer id (decisions, imports, erasure): an
		// id it refuses could never be erased, and "~erased" is the
		// ledger's bucket of erased customers' events.
		return protocol.ContactEvent{}, &api.Error{Code: api.CodeInvalidField, Field: "customerId", Message: msgBadCustomer}
	}
	for _, f := range []struct{ name, v string }{
		{"offerId", req.OfferID}, {"campaignId", req.CampaignID}, {"decisionId", req.DecisionID},
	} {
		if f.v != "" && !protocol.ValidRef(f.v) {
			return protocol.ContactEvent{}, &api.Error{Code: api.CodeInvalidField, Field: f.name, Message: msgBadID}
		}
	}
	switch {
	case req.Type == "":
		return protocol.ContactEvent{}, &api.Error{Code: api.CodeMissingField, Field: "type", Message: msgRequired}
	case !slices.Contains(protocol.ContactTypes, req.Type):
		return protocol.ContactEvent{}, &api.Error{Code: api.CodeInvalidField, Field: "type", Message: msgOneOf + strings.Join(protocol.ContactTypes, ", ")}
	case req.Outcome == "":
		return protocol.ContactEvent{}, &api.Error{Code: api.CodeMissingField, Field: "outcome", Message: msgRequired}
	case !slices.Contains(protocol.Outcomes, req.Outcome):
		return protocol.ContactEvent{}, &api.Error{Code: api.CodeInvalidField, Field: "outcome", Message: msgOneOf + strings.Join(protocol.Outcomes, ", ")}
	case !slices.Contains(protocol.KnownChannels, req.Channel):
		return protocol.ContactEvent{}, &api.Error{Code: api.CodeInvalidField, Field: "channel", Message: msgOneOf + strings.Join(protocol.KnownChannels, ", ")}
	}
	ev := protocol.ContactEvent{
		CustomerID: req.CustomerID,
		Channel:    req.Channel,
		Type:       req.Type,
		Outcome:    req.Outcome,
		OfferID:    req.OfferID,
		CampaignID: req.CampaignID,
		DecisionID: req.DecisionID,
	}
	if req.Value != nil {
		v := *req.Value
		if math.IsNaN(v) || v < 0 || v > protocol.MaxContactValue {
			return protocol.ContactEvent{}, &api.Error{Code: api.CodeInvalidField, Field: "value", Message: msgBadValue}
		}
		ev.Value = v
	}
	return ev, nil
}

// fillCampaign names the campaign of a contact that names an offer but no
// campaign, when exactly one campaign of the agent's current catalogue
// lists the offer (whatever its status: an offer accepted after its
// campaign completed still counts for it). Campaign results count contacts by
// campaignId, and a decision lists each offer under its campaign, but
// clients often send back only the offer. An offer in several campaigns,
// or one the agent does not know, leaves the campaign empty, as does a
// customer the campaign holds out (CampaignOfOffer); a campaign the client
// gave is never replaced.
func (a *Agent) fillCampaign(ev *protocol.ContactEvent) {
	if ev.OfferID == "" || ev.CampaignID != "" {
		return
	}
	eng, err := a.engines.get()
	if err != nil {
		// The contact matters more than its campaign: log it without.
		a.log.Warn("find the campaign of a contact's offer", "offer", ev.OfferID, "error", err)
		return
	}
	if id, ok := eng.CampaignOfOffer(ev.OfferID, ev.CustomerID); ok {
		ev.CampaignID = id
	}
}

// decodeStrict decodes a JSON body, refusing unknown fields and trailing
// data, with the admin API's codes.
func decodeStrict(body []byte, v any) *api.Error {
	if key, ok := repeatedKey(body); ok {
		// encoding/json lets the last one win: a contact whose customer
		// or type is given twice is ambiguous, as for decisions.
		return &api.Error{Code: api.CodeInvalidJSON, Field: key, Message: "appears twice"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return api.TypeError(te)
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return &api.Error{Code: api.CodeUnknownField, Field: strings.Trim(f, `"`), Message: msgUnknownField + f}
		}
		if errors.Is(err, io.EOF) {
			return api.Errorf(api.CodeInvalidJSON, msgEmptyBody)
		}
		return api.Errorf(api.CodeInvalidJSON, "%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return api.Errorf(api.CodeInvalidJSON, msgTrailing)
	}
	return nil
}

// repeatedKey reports a member name given twice at the top level of a
// JSON object (the body's other faults are decodeStrict's to report).
func repeatedKey(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		key, _ := tok.(string)
		if seen[key] {
			return key, true
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", false
		}
	}
	return "", false
}
