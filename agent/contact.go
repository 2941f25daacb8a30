package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// ContactRequest is the body of POST /v1/contacts: one contact and its
// outcome. Channel defaults to the agent's; the ids are optional and need
// not name anything the agent knows (a customer or an offer the cache does
// not hold is still logged).
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
const (
	maxContactBody = 64 << 10
	maxIDLen       = 128
	maxValue       = 1e12 // yuan
)

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
	for _, f := range []struct {
		name, v  string
		required bool
	}{
		{"customerId", req.CustomerID, true},
		{"offerId", req.OfferID, false},
		{"campaignId", req.CampaignID, false},
		{"decisionId", req.DecisionID, false},
	} {
		if f.v == "" {
			if f.required {
				return protocol.ContactEvent{}, &api.Error{Code: api.CodeMissingField, Field: f.name, Message: msgRequired}
			}
			continue
		}
		if !validID(f.v) {
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
		if math.IsNaN(v) || v < 0 || v > maxValue {
			return protocol.ContactEvent{}, &api.Error{Code: api.CodeInvalidField, Field: "value", Message: msgBadValue}
		}
		ev.Value = v
	}
	return ev, nil
}

// validID accepts 1 to 128 bytes of UTF-8 without control characters or
// surrounding spaces.
func validID(s string) bool {
	if s == "" || len(s) > maxIDLen || !utf8.ValidString(s) || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// decodeStrict decodes a JSON body, refusing unknown fields and trailing
// data, with the admin API's codes.
func decodeStrict(body []byte, v any) *api.Error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &api.Error{Code: api.CodeInvalidField, Field: te.Field, Message: msgExpected + te.Type.String() + ", got " + te.Value}
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
