package protocol

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Contact types.
const (
	ContactOffer       = "offer"
	ContactInquiry     = "inquiry"
	ContactComplaint   = "complaint"
	ContactTransaction = "transaction"
	ContactService     = "service"
)

// ContactTypes lists every contact type.
var ContactTypes = []string{ContactOffer, ContactInquiry, ContactComplaint, ContactTransaction, ContactService}

// Contact outcomes.
const (
	OutcomePresented = "presented"
	OutcomeAccepted  = "accepted"
	OutcomeDeclined  = "declined"
	OutcomeIgnored   = "ignored"
	OutcomeHoldout   = "holdout"
)

// Outcomes lists every contact outcome.
var Outcomes = []string{OutcomePresented, OutcomeAccepted, OutcomeDeclined, OutcomeIgnored, OutcomeHoldout}

// ContactEvent is one contact and its outcome as an agent logged it. Its
// identity is (AgentID, Seq): the agent numbers its events without gaps,
// and the control plane keeps the highest sequence it committed per agent.
type ContactEvent struct {
	AgentID    string    `json:"agentId"`
	Seq        uint64    `json:"seq"`
	Time       time.Time `json:"time"`
	CustomerID string    `json:"customerId"`
	Channel    string    `json:"channel"`
	Site       string    `json:"site,omitempty"`
	Type       string    `json:"type"`
	Outcome    string    `json:"outcome"`
	DecisionID string    `json:"decisionId,omitempty"`
	CampaignID string    `json:"campaignId,omitempty"`
	OfferID    string    `json:"offerId,omitempty"`
	// Value is the contact's value in yuan (an accepted offer's value).
	Value float64 `json:"value,omitempty"`
}

// Validate checks the fields an agent must fill.
func (e *ContactEvent) Validate() error {
	switch {
	case e.AgentID == "":
		return fmt.Errorf("contact event: agentId is required")
	case e.Seq == 0:
		return fmt.Errorf("contact event: seq starts at 1")
	case e.CustomerID == "":
		return fmt.Errorf("contact event: customerId is required")
	case e.Channel == "":
		return fmt.Errorf("contact event: channel is required")
	case !slices.Contains(ContactTypes, e.Type):
		return fmt.Errorf("contact event: unknown type %q; types are %v", e.Type, ContactTypes)
	case !slices.Contains(Outcomes, e.Outcome):
		return fmt.Errorf("contact event: unknown outcome %q; outcomes are %v", e.Outcome, Outcomes)
	}
	return nil
}

// ValidAgentID reports whether id may name an agent (or a control-plane
// node or cluster): 1 to 128 ASCII letters, digits, '-', '_' or '.', and
// not "." or "..". Ids appear in keys, certificates and URLs, so every
// component checks them with this one rule.
func ValidAgentID(id string) bool {
	if id == "" || len(id) > 128 || id == "." || id == ".." {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// MaxContactValue is the largest value (yuan) a contact may carry.
const MaxContactValue = 1e12

// ValidRef accepts 1 to 128 bytes of UTF-8 without control characters or
// surrounding spaces: an offer, campaign or decision id of a contact, which
// may come from outside the catalogue. Only customer ids key the ledger
// (and its erased bucket); these are stored as given.
func ValidRef(s string) bool {
	if s == "" || len(s) > 128 || !utf8.ValidString(s) || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}
