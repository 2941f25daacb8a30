package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"touchpoint.dev/touchpoint/protocol"
)

// Client is a thin HTTP client for the admin API of one cluster, through
// any of its members.
type Client struct {
	bases   []string
	addrErr error // why addr could not be used; every request returns it
	next    atomic.Int32
	token   string
	http    *http.Client
}

// NewClient returns a client for the admin API at addr authenticating with
// token. addr is one member's URL ("http://host:port", or "host:port") or
// several, separated by commas: a request that gets no answer from one
// (the connection, TLS or a timeout) goes to the next, and the client
// stays with the member that answered. Writes carry a request id, so one
// sent again elsewhere is applied once. An addr that is no URL makes every
// request fail with an *AddrError.
func NewClient(addr, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	c := &Client{token: token, http: hc}
	c.bases, c.addrErr = parseAddrs(addr)
	return c
}

// AddrError is an admin API address that cannot be used.
type AddrError struct {
	Addr string
	Err  error
}

func (e *AddrError) Error() string {
	return fmt.Sprintf("admin API address %q: %v", e.Addr, e.Err)
}

func (e *AddrError) Unwrap() error { return e.Err }

func parseAddrs(addr string) ([]string, error) {
	var bases []string
	for _, a := range strings.Split(addr, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		full := a
		if !strings.Contains(full, "://") {
			full = "http://" + full
		}
		u, err := url.Parse(full)
		if err != nil {
			return nil, &AddrError{Addr: a, Err: Cause(err)}
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, &AddrError{Addr: a, Err: fmt.Errorf("scheme %q: use http:// or https://", u.Scheme)}
		}
		if u.Host == "" || u.Port() == "" && strings.HasSuffix(u.Host, ":") {
			return nil, &AddrError{Addr: a, Err: errors.New("no host:port")}
		}
		bases = append(bases, strings.TrimRight(full, "/"))
	}
	if len(bases) == 0 {
		return nil, &AddrError{Addr: addr, Err: errors.New("no address given (--addr or TOUCHPOINT_ADDR)")}
	}
	return bases, nil
}

// NewRequestID returns a random id for HeaderRequestID.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Do sends one request and decodes a JSON answer into out (if not nil). A
// non-2xx answer becomes an *Error. Writes carry a request id, reused on
// every retry of the same call, so the control plane applies them once.
func (c *Client) Do(ctx context.Context, method, path string, contentType string, body []byte, out any) error {
	var rd io.ReadSeeker
	if body != nil {
		rd = bytes.NewReader(body)
	}
	return c.do(ctx, method, path, contentType, rd, out)
}

// do is Do with a body that is re-read from its start on every attempt (a
// snapshot file streams instead of sitting in memory).
func (c *Client) do(ctx context.Context, method, path string, contentType string, body io.ReadSeeker, out any) error {
	reqID := ""
	if method != http.MethodGet {
		reqID = NewRequestID()
	}
	var lastErr error
	start := time.Now()
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return lastErr
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		resp, err := c.send(ctx, method, path, contentType, body, reqID)
		if err != nil {
			return err
		}
		err = decodeResponse(resp, out)
		// Retry only while the cluster has no leader: the request id makes
		// a retried write safe.
		if e := (*Error)(nil); errors.As(err, &e) && e.Code == CodeNoLeader && time.Since(start) < noLeaderPatience {
			lastErr = err
			continue
		}
		return err
	}
	return lastErr
}

// noLeaderPatience bounds how long a call goes on retrying no_leader. A
// node itself waits up to 10 s for a leader before it answers no_leader, so
// a cluster that has lost its majority answers a call within about 20 s
// instead of five times that wait.
const noLeaderPatience = 12 * time.Second

// send sends the request to the member that answered last, and on to
// the others in turn while none answers.
func (c *Client) send(ctx context.Context, method, path, contentType string, body io.ReadSeeker, reqID string) (*http.Response, error) {
	if c.addrErr != nil {
		return nil, c.addrErr
	}
	first := int(c.next.Load())
	var errs []error
	for i := range c.bases {
		at := (first + i) % len(c.bases)
		resp, err := c.sendTo(ctx, c.bases[at], method, path, contentType, body, reqID)
		if err == nil {
			c.next.Store(int32(at))
			return resp, nil
		}
		var re *RequestError
		if !errors.As(err, &re) || ctx.Err() != nil {
			return nil, err
		}
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, &RequestError{Method: method, URL: path, Err: &noMember{errs}}
}

// noMember is why a request reached none of several members.
type noMember struct{ errs []error }

func (e *noMember) Error() string {
	var b strings.Builder
	b.WriteString("no member answered")
	for i, err := range e.errs {
		var re *RequestError
		errors.As(err, &re)
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		b.WriteString(sep + re.base + ": " + Cause(re.Err).Error())
	}
	return b.String()
}

func (e *noMember) Unwrap() []error { return e.errs }

func (c *Client) sendTo(ctx context.Context, base, method, path, contentType string, body io.ReadSeeker, reqID string) (*http.Response, error) {
	var rd io.Reader
	var size int64
	if body != nil {
		var err error
		if size, err = body.Seek(0, io.SeekEnd); err == nil {
			_, err = body.Seek(0, io.SeekStart)
		}
		if err != nil {
			return nil, fmt.Errorf("rewind request body: %w", err)
		}
		rd = io.NopCloser(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.ContentLength = size
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if reqID != "" {
		req.Header.Set(HeaderRequestID, reqID)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &RequestError{Method: method, URL: base + path, Err: err, base: base}
	}
	return resp, nil
}

// RequestError is a request that got no answer: the connection, TLS or
// a timeout. Err is what http.Client.Do returned (a *url.Error); the
// message names the request once ("GET http://…/v1/x: dial tcp …:
// connection refused"), where the url.Error would name it again.
type RequestError struct {
	Method, URL string
	Err         error
	base        string // the member's URL, where URL is base + path
}

func (e *RequestError) Error() string {
	return e.Method + " " + e.URL + ": " + Cause(e.Err).Error()
}

// Cause is what a request that got no answer failed on, without the
// request's own method and URL: the inner error of a *url.Error, else err.
func Cause(err error) error {
	var nm *noMember
	if errors.As(err, &nm) {
		return nm // which names each member's own cause
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (e *RequestError) Unwrap() error { return e.Err }

func decodeResponse(resp *http.Response, out any) error {
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var eb ErrorBody
		if json.Unmarshal(b, &eb) == nil && eb.Error != nil && eb.Error.Code != "" {
			eb.Error.Status = resp.StatusCode
			return eb.Error
		}
		if resp.StatusCode == http.StatusBadRequest && bytes.Contains(b, []byte("Client sent an HTTP request to an HTTPS server")) {
			// net/http's own answer on a TLS port.
			return &Error{Code: CodeBadRequest, Status: resp.StatusCode,
				Message: "the admin API speaks HTTPS: give an https:// address (--addr, TOUCHPOINT_ADDR)"}
		}
		return &Error{Code: CodeInternal, Status: resp.StatusCode,
			Message: fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))}
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if w, ok := out.(io.Writer); ok {
		_, err := io.Copy(w, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

func staleQuery(stale bool) string {
	if stale {
		return "?stale=true"
	}
	return ""
}

// Apply posts catalogue documents (YAML or JSON, one or many).
func (c *Client) Apply(ctx context.Context, body []byte, contentType string) (*ApplyResult, error) {
	var r ApplyResult
	if err := c.Do(ctx, http.MethodPost, "/v1/catalog", contentType, body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Get returns one catalogue object.
func (c *Client) Get(ctx context.Context, plural, id string, stale bool) (*Object, error) {
	var o Object
	p := "/v1/catalog/" + url.PathEscape(plural) + "/" + url.PathEscape(id) + staleQuery(stale)
	if err := c.Do(ctx, http.MethodGet, p, "", nil, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// List returns every object of a kind, ordered by id.
func (c *Client) List(ctx context.Context, plural string, stale bool) ([]Object, error) {
	var os []Object
	p := "/v1/catalog/" + url.PathEscape(plural) + staleQuery(stale)
	if err := c.Do(ctx, http.MethodGet, p, "", nil, &os); err != nil {
		return nil, err
	}
	return os, nil
}

// Delete removes one catalogue object.
func (c *Client) Delete(ctx context.Context, plural, id string) (*WriteResult, error) {
	var r WriteResult
	p := "/v1/catalog/" + url.PathEscape(plural) + "/" + url.PathEscape(id)
	if err := c.Do(ctx, http.MethodDelete, p, "", nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Changes reads the change feed after index, waiting up to wait for a
// change when there is none yet.
func (c *Client) Changes(ctx context.Context, after uint64, wait time.Duration) (*ChangeFeed, error) {
	var f ChangeFeed
	p := "/v1/changes?after=" + strconv.FormatUint(after, 10)
	if wait > 0 {
		p += "&wait=" + url.QueryEscape(wait.String())
	}
	if err := c.Do(ctx, http.MethodGet, p, "", nil, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// ClusterStatus asks for the cluster's members and their states.
func (c *Client) ClusterStatus(ctx context.Context) (*ClusterStatus, error) {
	var s ClusterStatus
	if err := c.Do(ctx, http.MethodGet, "/v1/cluster/status", "", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Self asks one node for its own state.
func (c *Client) Self(ctx context.Context) (*NodeStatus, error) {
	var s NodeStatus
	if err := c.Do(ctx, http.MethodGet, "/v1/cluster/self", "", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Join asks the cluster to add a voter.
func (c *Client) Join(ctx context.Context, r JoinRequest) error {
	b, _ := json.Marshal(r)
	return c.Do(ctx, http.MethodPost, "/v1/cluster/join", "application/json", b, nil)
}

// Membership asks the node whether id is in its Raft configuration.
func (c *Client) Membership(ctx context.Context, id string) (*Membership, error) {
	var m Membership
	if err := c.Do(ctx, http.MethodGet, "/v1/cluster/members/"+url.PathEscape(id), "", nil, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Remove takes a server out of the Raft configuration.
func (c *Client) Remove(ctx context.Context, id string) (*WriteResult, error) {
	b, _ := json.Marshal(RemoveRequest{ID: id})
	var r WriteResult
	if err := c.Do(ctx, http.MethodPost, "/v1/cluster/remove", "application/json", b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// SnapshotSave streams a snapshot of the cluster's state into w.
func (c *Client) SnapshotSave(ctx context.Context, w io.Writer) error {
	return c.Do(ctx, http.MethodGet, "/v1/cluster/snapshot", "", nil, w)
}

// SnapshotRestore replaces the cluster's state with a saved snapshot,
// streamed from r (a file, typically; it is re-read from the start when the
// request is retried while the cluster has no leader).
func (c *Client) SnapshotRestore(ctx context.Context, r io.ReadSeeker) (*WriteResult, error) {
	var out WriteResult
	if err := c.do(ctx, http.MethodPost, "/v1/cluster/snapshot", "application/octet-stream", r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Audit lists audit entries, newest last; limit 0 means the server default.
func (c *Client) Audit(ctx context.Context, limit int) ([]AuditEntry, error) {
	var es []AuditEntry
	p := "/v1/audit"
	if limit > 0 {
		p += "?limit=" + strconv.Itoa(limit)
	}
	if err := c.Do(ctx, http.MethodGet, p, "", nil, &es); err != nil {
		return nil, err
	}
	return es, nil
}

// CreateToken mints a bearer token with a role.
func (c *Client) CreateToken(ctx context.Context, r TokenRequest) (*TokenResult, error) {
	b, _ := json.Marshal(r)
	var t TokenResult
	if err := c.Do(ctx, http.MethodPost, "/v1/tokens", "application/json", b, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// RevokeToken deletes an admin API token by id.
func (c *Client) RevokeToken(ctx context.Context, id string) (*WriteResult, error) {
	b, _ := json.Marshal(TokenRevokeRequest{ID: id})
	var r WriteResult
	if err := c.Do(ctx, http.MethodPost, "/v1/tokens/revoke", "application/json", b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Tokens lists the stored tokens, without secrets.
func (c *Client) Tokens(ctx context.Context) ([]TokenInfo, error) {
	var ts []TokenInfo
	if err := c.Do(ctx, http.MethodGet, "/v1/tokens", "", nil, &ts); err != nil {
		return nil, err
	}
	return ts, nil
}

// ContactStats reads the contact ledger's totals per agent.
func (c *Client) ContactStats(ctx context.Context) (*ContactStats, error) {
	var st ContactStats
	if err := c.Do(ctx, http.MethodGet, "/v1/contacts/stats", "", nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Contacts lists a customer's contacts at or after since: an RFC 3339 time
// or a duration back from now ("24h"); empty means all.
func (c *Client) Contacts(ctx context.Context, customer, since string, limit int) ([]protocol.ContactEvent, error) {
	q := url.Values{"customer": {customer}}
	if since != "" {
		q.Set("since", since)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var evs []protocol.ContactEvent
	if err := c.Do(ctx, http.MethodGet, "/v1/contacts?"+q.Encode(), "", nil, &evs); err != nil {
		return nil, err
	}
	return evs, nil
}

// JoinToken mints an agent join token.
func (c *Client) JoinToken(ctx context.Context, r JoinTokenRequest) (*JoinTokenResult, error) {
	b, _ := json.Marshal(r)
	var t JoinTokenResult
	if err := c.Do(ctx, http.MethodPost, "/v1/fleet/tokens", "application/json", b, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// RevokeAgent cuts an enrolled agent off. Unless r.Force, the cluster
// refuses (CodeConflict) while the agent's outbox may still hold contact
// events it has not delivered; an agent revoked before answers
// AlreadyRevoked and nothing is written.
func (c *Client) RevokeAgent(ctx context.Context, r RevokeRequest) (*RevokeResult, error) {
	b, _ := json.Marshal(r)
	var res RevokeResult
	if err := c.Do(ctx, http.MethodPost, "/v1/fleet/revoke", "application/json", b, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// FleetAgents lists every enrolled agent with its live state.
func (c *Client) FleetAgents(ctx context.Context) ([]FleetAgent, error) {
	var out []FleetAgent
	if err := c.Do(ctx, http.MethodGet, "/v1/fleet/agents", "", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// FleetAgent returns one enrolled agent with its live state.
func (c *Client) FleetAgent(ctx context.Context, id string) (*FleetAgent, error) {
	var out FleetAgent
	if err := c.Do(ctx, http.MethodGet, "/v1/fleet/agents/"+url.PathEscape(id), "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RotateGossipKey puts a fresh gossip key in front of the keyring.
func (c *Client) RotateGossipKey(ctx context.Context) (*WriteResult, error) {
	var r WriteResult
	if err := c.Do(ctx, http.MethodPost, "/v1/fleet/gossip-key", "application/json", []byte("{}"), &r); err != nil {
		return nil, err
	}
	return &r, nil
}
