package agent

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"touchpoint.dev/touchpoint/agent/cache"
	"touchpoint.dev/touchpoint/agent/link"
	"touchpoint.dev/touchpoint/agent/outbox"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/diskspace"
)

// Health answers GET /healthz and GET /readyz.
type Health struct {
	Status string `json:"status"` // ok or not_ready
	// Session is the link's state, or SessionRevoked once the control
	// plane has revoked the agent.
	Session     string `json:"session"`
	ConfigIndex uint64 `json:"configIndex"`
	OutboxDepth uint64 `json:"outboxDepth"`
	OutboxFull  bool   `json:"outboxFull"`
	// DiskLow: the data directory has less free space than
	// --min-free-disk-mb; contacts are refused until space is freed.
	DiskLow bool `json:"diskLow,omitempty"`
	// Revoked: the control plane revoked this agent. It still decides
	// from its cache but refuses contacts (they could never be
	// delivered), so /readyz answers 503.
	Revoked bool `json:"revoked,omitempty"`
	// Reason says why /readyz answers not_ready.
	Reason string `json:"reason,omitempty"`
}

// SessionRevoked is Health.Session of a revoked agent.
const SessionRevoked = "revoked"

// Readiness reasons (Health.Reason).
const (
	reasonNoConfig = "no configuration yet: the agent has not received one from the control plane"
	reasonRevoked  = "revoked by the control plane: contacts are refused (decisions are still served from the cache); enroll the agent under a new id"
)

// Status answers GET /v1/status.
type Status struct {
	ID      string         `json:"id"`
	Site    string         `json:"site"`
	Channel string         `json:"channel"`
	Version string         `json:"version"`
	Started time.Time      `json:"started"`
	Link    link.Status    `json:"link"`
	Config  cache.Position `json:"config"`
	Outbox  OutboxStatus   `json:"outbox"`
	// Disk is the data directory's free space against --min-free-disk-mb
	// (absent when it cannot be read).
	Disk   *diskspace.Status `json:"disk,omitempty"`
	Gossip string            `json:"gossipAddr,omitempty"`
}

// OutboxStatus is the outbox part of Status.
type OutboxStatus struct {
	NextSeq      uint64 `json:"nextSeq"`
	Acked        uint64 `json:"acked"`
	Backlog      uint64 `json:"backlog"`
	BacklogBytes int64  `json:"backlogBytes"`
	Full         bool   `json:"full"`
}

// routeOf is the route label of a refused request: the mux's pattern, or
// "unrouted" before the mux has matched one (the API key check).
func routeOf(r *http.Request) string {
	switch {
	case r.Pattern != "":
		return r.Pattern
	case r.Method+" "+r.URL.Path == routeContacts:
		return routeContacts // a contact request all the same
	}
	return "unrouted"
}

// routeContacts is the contact API's route; its refusals are also
// contacts_rejected_total.
const routeContacts = "POST /v1/contacts"

func (a *Agent) routes() http.Handler {
	mux := api.NewMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{ErrorLog: nil}))
	mux.HandleFunc(routeContacts, a.postContact)
	mux.HandleFunc("POST /v1/decisions", a.postDecision)
	mux.HandleFunc("POST "+tmfRecommendationPath, a.tmfRecommend)
	mux.HandleFunc("GET "+tmfCustomerPath+"{id}", a.tmfCustomer)
	mux.HandleFunc("GET /v1/catalog/{kind}", a.listCatalog)
	mux.HandleFunc("GET /v1/catalog/{kind}/{id}", a.getCatalog)
	mux.HandleFunc("GET /v1/status", a.status)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		api.WriteError(w, api.Errorf(api.CodeNotFound, "%s%s %s", msgNoEndpoint, r.Method, r.URL.Path))
	})
	return a.authenticate(mux)
}

// open endpoints answer without an API key (probes and scrapers).
var openPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

func (a *Agent) authenticate(next http.Handler) http.Handler {
	if a.cfg.APIKey == "" {
		return next
	}
	want := sha256.Sum256([]byte(a.cfg.APIKey))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if openPaths[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		key := r.Header.Get("X-API-Key")
		if h := r.Header.Get("Authorization"); key == "" && h != "" {
			scheme, token, _ := strings.Cut(h, " ")
			if strings.EqualFold(scheme, "Bearer") {
				key = strings.TrimSpace(token)
			}
		}
		if key == "" {
			a.metrics.rejected(routeOf(r), api.CodeUnauthorized)
			api.WriteError(w, api.Errorf(api.CodeUnauthorized, msgUnauthorized))
			return
		}
		got := sha256.Sum256([]byte(key))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			a.metrics.rejected(routeOf(r), api.CodeUnauthorized)
			api.WriteError(w, api.Errorf(api.CodeUnauthorized, msgBadKey))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *Agent) health() Health {
	st := a.outbox.Stats()
	h := Health{
		Status:      "ok",
		Session:     a.link.Status().State,
		ConfigIndex: a.cache.Position().Index,
		OutboxDepth: st.Backlog,
		OutboxFull:  st.Full,
		DiskLow:     a.disk.Check() != nil,
	}
	if a.link.Revoked() {
		h.Session, h.Revoked = SessionRevoked, true
	}
	return h
}

// healthz answers 200 while the process serves (a revoked agent too:
// restarting it would not help).
func (a *Agent) healthz(w http.ResponseWriter, _ *http.Request) {
	api.WriteJSON(w, http.StatusOK, a.health())
}

// ready reports whether the cache holds a configuration to serve from,
// whether or not the control plane is reachable.
func (a *Agent) ready() bool { return a.cache.Position().ClusterID != "" }

// notReady is why the agent cannot take traffic ("" when it can): it
// needs a configuration, and a revoked agent refuses every contact.
func (a *Agent) notReady(revoked bool) string {
	switch {
	case !a.ready():
		return reasonNoConfig
	case revoked:
		return reasonRevoked
	}
	return ""
}

func (a *Agent) readyz(w http.ResponseWriter, _ *http.Request) {
	h := a.health()
	if h.Reason = a.notReady(h.Revoked); h.Reason != "" {
		h.Status = "not_ready"
		api.WriteJSON(w, http.StatusServiceUnavailable, h)
		return
	}
	api.WriteJSON(w, http.StatusOK, h)
}

// readBody reads a request body of at most limit bytes, refusing a larger
// one with body_too_large and a failed read with bad_request (ok false:
// the answer is written).
func (a *Agent) readBody(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, ok bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			a.refuse(w, r, api.Errorf(api.CodeBodyTooLarge, msgBodyTooLarge))
		} else {
			a.refuse(w, r, api.Errorf(api.CodeBadRequest, "read body: %v", err))
		}
		return nil, false
	}
	return body, true
}

func (a *Agent) postContact(w http.ResponseWriter, r *http.Request) {
	body, ok := a.readBody(w, r, maxContactBody)
	if !ok {
		return
	}
	ev, aerr := decodeContact(body, a.cfg.Channel)
	if aerr != nil {
		a.refuse(w, r, aerr)
		return
	}
	idem, aerr := idempotencyOf(r, ev)
	if aerr != nil {
		a.refuse(w, r, aerr)
		return
	}
	if a.link.Revoked() {
		// 202 means the event will reach the ledger; a revoked agent's
		// never will.
		a.refuse(w, r, api.Errorf(api.CodeRevoked, msgRevoked))
		return
	}
	ev.Site = a.cfg.Site
	a.fillCampaign(&ev)
	stored, replayed, err := a.appendContact(r.Context(), ev, idem)
	switch {
	case err == nil:
	case errors.Is(err, outbox.ErrKeyReused):
		a.refuse(w, r, &api.Error{Code: api.CodeConflict, Field: headerIdempotencyKey, Message: msgKeyReused})
		return
	case errors.Is(err, outbox.ErrFull):
		a.refuse(w, r, api.Errorf(api.CodeOutboxFull, msgOutboxFull))
		return
	case errors.Is(err, outbox.ErrClosed):
		a.refuse(w, r, api.Errorf(api.CodeUnavailable, msgClosing))
		return
	case errors.Is(err, diskspace.ErrLow):
		var low *diskspace.LowError
		errors.As(err, &low)
		a.refuse(w, r, api.Errorf(api.CodeInsufficientStorage, msgDiskLow, low))
		return
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The client went away: it saw no answer, so it was not told the
		// contact is logged (it may be: it is then delivered like any).
		a.metrics.rejected(routeOf(r), api.CodeTimeout)
		return
	default:
		a.log.Error("log contact", "error", err)
		a.refuse(w, r, api.Errorf(api.CodeInternal, "%s: %v", msgNotLogged, err))
		return
	}
	if replayed {
		w.Header().Set(headerReplayed, "true")
	} else {
		a.metrics.appended.Inc()
		if stored.Outcome == protocol.OutcomePresented && stored.OfferID != "" {
			a.volumes.presented(stored.Seq, stored.OfferID)
		}
	}
	api.WriteJSON(w, http.StatusAccepted, ContactAccepted{
		EventID: stored.AgentID + ":" + strconv.FormatUint(stored.Seq, 10),
		Seq:     stored.Seq,
	})
}

// Idempotent contacts: a client that did not get the answer to a contact
// (a timeout, a dropped connection, an agent that crashed after the sync)
// sends it again with the same Idempotency-Key, and the contact is logged
// once; the answer says Idempotent-Replayed: true.
const (
	headerIdempotencyKey = "Idempotency-Key"
	headerReplayed       = "Idempotent-Replayed"
)

// idempotencyOf is the request's idempotency key, nil without one. The
// digest is of the contact as decoded (not of the bytes: a client may
// encode a retry differently), before the agent fills anything in.
func idempotencyOf(r *http.Request, ev protocol.ContactEvent) (*outbox.Idempotency, *api.Error) {
	vals := r.Header.Values(headerIdempotencyKey)
	if len(vals) == 0 {
		return nil, nil
	}
	// A header sent empty (a client whose key variable is unset) or twice
	// would leave the client believing a retry is safe.
	key := vals[0]
	if len(vals) > 1 || key == "" || len(key) > outbox.MaxIdempotencyKey || strings.IndexFunc(key, func(c rune) bool { return c < 0x20 || c > 0x7e }) >= 0 {
		return nil, &api.Error{Code: api.CodeInvalidField, Field: headerIdempotencyKey, Message: msgBadIdemKey}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, api.Errorf(api.CodeInternal, "%v", err)
	}
	return &outbox.Idempotency{Key: key, Digest: sha256.Sum256(b)}, nil
}

func (a *Agent) refuse(w http.ResponseWriter, r *http.Request, e *api.Error) {
	a.metrics.rejected(routeOf(r), e.Code)
	api.WriteError(w, e)
}

func kindParam(r *http.Request) (protocol.Kind, *api.Error) {
	k, ok := protocol.KindFromPlural(r.PathValue("kind"))
	if !ok {
		plurals := make([]string, len(protocol.Kinds))
		for i, k := range protocol.Kinds {
			plurals[i] = k.Plural()
		}
		return "", api.Errorf(api.CodeUnknownKind, msgUnknownKind, r.PathValue("kind"), strings.Join(plurals, ", "))
	}
	return k, nil
}

func (a *Agent) listCatalog(w http.ResponseWriter, r *http.Request) {
	k, aerr := kindParam(r)
	if aerr != nil {
		api.WriteError(w, aerr)
		return
	}
	objs, err := a.cache.List(string(k))
	if err != nil {
		api.WriteError(w, fmt.Errorf("list %s: %w", k, err))
		return
	}
	w.Header().Set(api.HeaderIndex, strconv.FormatUint(a.cache.Position().Index, 10))
	api.WriteJSON(w, http.StatusOK, objs)
}

func (a *Agent) getCatalog(w http.ResponseWriter, r *http.Request) {
	k, aerr := kindParam(r)
	if aerr != nil {
		api.WriteError(w, aerr)
		return
	}
	id := r.PathValue("id")
	o, found, err := a.cache.Get(string(k), id)
	if err != nil {
		api.WriteError(w, fmt.Errorf("get %s %s: %w", k, id, err))
		return
	}
	if !found {
		api.WriteError(w, api.Errorf(api.CodeNotFound, msgNotFound, k, id))
		return
	}
	w.Header().Set(api.HeaderIndex, strconv.FormatUint(a.cache.Position().Index, 10))
	api.WriteJSON(w, http.StatusOK, o)
}

// Status reports the agent's state (GET /v1/status).
func (a *Agent) Status() Status {
	st := a.outbox.Stats()
	return Status{
		ID: a.cfg.ID, Site: a.cfg.Site, Channel: a.cfg.Channel, Version: a.cfg.Version,
		Started: a.started,
		Link:    a.link.Status(),
		Config:  a.cache.Position(),
		Outbox: OutboxStatus{
			NextSeq: st.NextSeq, Acked: st.Acked, Backlog: st.Backlog,
			BacklogBytes: st.BacklogBytes, Full: st.Full,
		},
		Disk:   a.disk.Status(),
		Gossip: a.members.addr(),
	}
}

func (a *Agent) status(w http.ResponseWriter, _ *http.Request) {
	api.WriteJSON(w, http.StatusOK, a.Status())
}
