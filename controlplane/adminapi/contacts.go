package adminapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func (s *Server) contactStats(context.Context, *request) (any, error) {
	total, agents, err := s.state.ContactStats()
	if err != nil {
		return nil, err
	}
	out := api.ContactStats{Total: total, Agents: make([]api.AgentContacts, len(agents))}
	for i, a := range agents {
		out.Agents[i] = api.AgentContacts{AgentID: a.AgentID, Received: a.Received, HighestSequence: a.HighestSequence, LastEvent: a.LastEvent}
	}
	return out, nil
}

func (s *Server) contacts(_ context.Context, q *request) (any, error) {
	qs := q.r.URL.Query()
	customer := qs.Get("customer")
	if customer == "" {
		return nil, &api.Error{Code: api.CodeMissingField, Field: "customer", Message: "give the customer id: ?customer=ID"}
	}
	// No contact names an id the cluster refuses (agents check it too):
	// an answer of none would read as "no contacts".
	if customer != fsm.ErasedCustomer && !protocol.ValidAgentID(customer) {
		return nil, &api.Error{Code: api.CodeInvalidField, Field: "customer",
			Message: fmt.Sprintf("customer %q: a customer id is 1 to 128 ASCII letters, digits, '-', '_' or '.'", clip(customer))}
	}
	var since time.Time
	if v := qs.Get("since"); v != "" {
		t, err := parseSince(v, s.cfg.Now())
		if err != nil {
			return nil, &api.Error{Code: api.CodeInvalidField, Field: "since", Message: err.Error()}
		}
		since = t
	}
	limit := 1000
	if v := qs.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100000 {
			return nil, &api.Error{Code: api.CodeInvalidField, Field: "limit", Message: "limit must be between 1 and 100000"}
		}
		limit = n
	}
	return s.state.ContactsByCustomer(customer, since, limit)
}

// parseSince reads an RFC 3339 time, a date (its midnight UTC, as
// segments run's --as-of reads one), or a duration back from now: Go's
// ("24h", "90m") or whole days ("30d").
func parseSince(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 && n <= maxSinceDays {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, errSince
}

// maxSinceDays bounds a since of days (about a century back).
const maxSinceDays = 36_500

var errSince = errors.New(`since is an RFC 3339 time (2026-11-22T08:00:00+08:00), a date (2026-11-22, its midnight UTC) or a duration back from now ("24h", "30d")`)

// clip cuts an echoed value to a readable length.
func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
