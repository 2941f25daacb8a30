package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"touchpoint.dev/touchpoint/protocol"
)

// Customer endpoints' limits.
const (
	// MaxCustomersBody bounds POST /v1/customers.
	MaxCustomersBody = 4 << 20
	// MaxCustomersPerRequest bounds the profiles of one POST /v1/customers.
	MaxCustomersPerRequest = 5000
	// RecentContactsLimit is how many contacts GET /v1/customers/{id}
	// returns, newest first.
	RecentContactsLimit = 20
)

// CustomersResult answers POST /v1/customers: every profile of the request
// committed at Index, as one Raft entry.
type CustomersResult struct {
	Index    uint64 `json:"index"`
	Upserted int    `json:"upserted"`
	// Created counts the upserted ids the cluster did not hold before;
	// the others replaced a stored profile.
	Created   int  `json:"created"`
	Duplicate bool `json:"duplicate,omitempty"`
}

// CustomerView answers GET /v1/customers/{id}: the 360° view of one
// customer. Personal attributes are masked (Masked is true) unless the
// caller's role is admin. RecentContacts holds the newest contacts first; it
// is empty for roles that may not read the contact ledger (viewer), and
// ContactsHidden then says so.
type CustomerView struct {
	ID             string                  `json:"id"`
	Region         string                  `json:"region"`
	Attributes     map[string]any          `json:"attributes"`
	Consents       map[string]bool         `json:"consents"`
	DoNotDisturb   bool                    `json:"doNotDisturb"`
	Derived        map[string]any          `json:"derived"`
	RecentContacts []protocol.ContactEvent `json:"recentContacts"`
	ContactsHidden bool                    `json:"contactsHidden,omitempty"`
	Index          uint64                  `json:"index"`
	Masked         bool                    `json:"masked"`
}

// CustomerPage answers GET /v1/customers?region=R: profiles in id order,
// masked unless the caller is admin. Next is the id to pass as after= for
// the following page ("" after the last).
type CustomerPage struct {
	Customers []protocol.Profile `json:"customers"`
	Next      string             `json:"next,omitempty"`
	Masked    bool               `json:"masked"`
}

// CustomerEraseResult answers DELETE /v1/customers/{id}. Agents have
// dropped the customer once their configIndex reaches Index.
type CustomerEraseResult struct {
	Index uint64 `json:"index"`
	// AnonymizedEvents counts the contact-ledger events that no longer
	// name the customer.
	AnonymizedEvents int  `json:"anonymizedEvents"`
	Duplicate        bool `json:"duplicate,omitempty"`
}

// UpsertCustomers stores profiles (each replaces the stored profile of its
// id) in one Raft entry. The request is retried with the same request id
// while the cluster has no leader, so it is applied once.
func (c *Client) UpsertCustomers(ctx context.Context, profiles []protocol.Profile) (*CustomersResult, error) {
	b, err := json.Marshal(profiles)
	if err != nil {
		return nil, err
	}
	return c.UpsertCustomersJSON(ctx, b)
}

// UpsertCustomersJSON is UpsertCustomers with the JSON array already
// encoded.
func (c *Client) UpsertCustomersJSON(ctx context.Context, body []byte) (*CustomersResult, error) {
	var r CustomersResult
	if err := c.Do(ctx, http.MethodPost, "/v1/customers", "application/json", body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Customer returns one customer's 360° view.
func (c *Client) Customer(ctx context.Context, id string) (*CustomerView, error) {
	var v CustomerView
	if err := c.Do(ctx, http.MethodGet, "/v1/customers/"+url.PathEscape(id), "", nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Customers returns a page of a region's customers after id after (""
// from the start); limit 0 means the server's default.
func (c *Client) Customers(ctx context.Context, region, after string, limit int) (*CustomerPage, error) {
	q := url.Values{"region": {region}}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var p CustomerPage
	if err := c.Do(ctx, http.MethodGet, "/v1/customers?"+q.Encode(), "", nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// EraseCustomer removes a customer from the control plane and, through the
// change feed, from every agent.
func (c *Client) EraseCustomer(ctx context.Context, id string) (*CustomerEraseResult, error) {
	var r CustomerEraseResult
	if err := c.Do(ctx, http.MethodDelete, "/v1/customers/"+url.PathEscape(id), "", nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
