package api

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"touchpoint.dev/touchpoint/protocol"
)

// Contact history from outside the fleet — a shop's till, a billing or
// web-shop export, a published purchase log such as CDNOW — enters the
// ledger through POST /v1/contacts/import, so that segmentation and
// lifetime value can be computed from it. A source is an append-only log:
// its rows are numbered 1, 2, 3… (seq) and stored under the ledger id
// import.<source>, with the same rule as an agent's events: rows at or
// below the source's highest stored number are duplicates and are dropped,
// and a batch must continue from there without a gap. Importing a file
// again, or a longer version of it, stores only the rows not yet stored.

// ImportLedgerPrefix begins the ledger id of every import source. No agent
// may enroll under an id that begins with it.
const ImportLedgerPrefix = "import."

// ChannelStore is the channel of an imported contact that happened
// outside the agents' channels (a shop's till, a billing system). It is a
// ledger channel only: no offer, campaign or contact policy names it, and
// only "all" caps count it.
const ChannelStore = "store"

// ImportChannels are the channels an imported contact may name.
var ImportChannels = append([]string{ChannelStore}, protocol.KnownChannels...)

// MaxImportSource is the longest source name: with its prefix it is a
// valid ledger id.
const MaxImportSource = 128 - len(ImportLedgerPrefix)

// MaxImportEvents is the most events one import request may carry.
const MaxImportEvents = 10_000

// ImportLedgerID is the ledger id of an import source.
func ImportLedgerID(source string) string { return ImportLedgerPrefix + source }

// IsImportLedgerID reports whether a ledger id names an import source.
func IsImportLedgerID(id string) bool { return strings.HasPrefix(id, ImportLedgerPrefix) }

// ContactsImport is the body of POST /v1/contacts/import: rows of one
// source, in order. An event's agentId is left out (or is the source's
// ledger id); its seq is its row number in the source.
type ContactsImport struct {
	Source string                  `json:"source"`
	Events []protocol.ContactEvent `json:"events"`
}

// ContactsImportResult is what an import request answers.
type ContactsImportResult struct {
	Source   string `json:"source"`
	LedgerID string `json:"ledgerId"`
	Index    uint64 `json:"index"`
	// Stored rows are new; Duplicates were stored before (a resend or a
	// file imported again).
	Stored     int `json:"stored"`
	Duplicates int `json:"duplicates"`
	// HighestSeq is the highest row number of the source now stored.
	HighestSeq uint64 `json:"highestSeq"`
}

// ImportContacts sends one batch of a source's rows.
func (c *Client) ImportContacts(ctx context.Context, req ContactsImport) (*ContactsImportResult, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var r ContactsImportResult
	if err := c.Do(ctx, http.MethodPost, "/v1/contacts/import", "application/json", b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// MaxImportFuture is how far past the control plane's clock an imported
// contact's time may be (clock skew between the source and the cluster).
const MaxImportFuture = 10 * time.Minute

// CheckImportEvent checks one imported row (its agentId aside) at time
// now: the CLI checks a whole file with it before sending anything, and
// the control plane checks every request with it again. It answers the
// field at fault and why, or "" when the row is fine.
func CheckImportEvent(ev *protocol.ContactEvent, now time.Time) (field, problem string) {
	switch {
	case ev.Seq == 0:
		return "seq", "row numbers start at 1"
	case ev.CustomerID == "":
		return "customerId", "is required"
	case !protocol.ValidAgentID(ev.CustomerID):
		return "customerId", fmt.Sprintf("%q: a customer id is 1 to 128 ASCII letters, digits, '-', '_' or '.'", clipText(ev.CustomerID))
	case ev.Time.IsZero():
		return "time", "is required"
	case ev.Time.Before(time.Unix(0, 0)):
		// The ledger orders a customer's contacts by nanoseconds since
		// 1970 as an unsigned number: an earlier time would sort last.
		return "time", fmt.Sprintf("%s is before 1970, where the ledger's time begins", ev.Time.Format(time.RFC3339))
	case ev.Time.After(now.Add(MaxImportFuture)):
		return "time", fmt.Sprintf("%s is in the future (the cluster's clock reads %s)", ev.Time.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case !slices.Contains(ImportChannels, ev.Channel):
		return "channel", fmt.Sprintf("%q: channels are %s", clipText(ev.Channel), strings.Join(ImportChannels, ", "))
	case !slices.Contains(protocol.ContactTypes, ev.Type):
		return "type", fmt.Sprintf("%q: types are %s", clipText(ev.Type), strings.Join(protocol.ContactTypes, ", "))
	case ev.Outcome == protocol.OutcomeHoldout:
		return "outcome", "holdout contacts are the agents' record of their control groups and cannot be imported"
	case !slices.Contains(protocol.Outcomes, ev.Outcome):
		return "outcome", fmt.Sprintf("%q: outcomes are %s", clipText(ev.Outcome), strings.Join(protocol.Outcomes, ", "))
	case math.IsNaN(ev.Value) || ev.Value < 0 || ev.Value > protocol.MaxContactValue:
		return "value", "must be a number from 0 to 1e12 (yuan)"
	}
	for _, f := range []struct{ name, v string }{{"offerId", ev.OfferID}, {"campaignId", ev.CampaignID}, {"decisionId", ev.DecisionID}} {
		if f.v != "" && !protocol.ValidRef(f.v) {
			return f.name, "must be 1 to 128 bytes of text without control characters or surrounding spaces"
		}
	}
	return "", ""
}

// clipText shortens a value quoted in an error.
func clipText(s string) string {
	n := 0
	for i := range s {
		if n == 40 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
