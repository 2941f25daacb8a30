// Package adminapi serves the control plane's HTTP/JSON admin API: the
// catalogue, cluster membership and snapshots, tokens and the audit log.
// Writes and leader-verified reads arriving at a follower are forwarded to
// the leader with the caller's credentials and request id; `?stale` reads
// are served by any node from its own state.
package adminapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"touchpoint.dev/touchpoint/controlplane/catalog"
	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/controlplane/store"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/diskspace"
)

// Store is the consensus side the API needs.
type Store interface {
	ID() string
	RaftAddr() string
	IsLeader() bool
	State() string
	Leader() (id, addr string)
	Indexes() (term, last, commit, applied uint64)
	Apply(ctx context.Context, cmd []byte) (*fsm.Result, error)
	ReadIndex(ctx context.Context) error
	Servers() ([]store.Server, error)
	AddVoter(id, addr string) error
	RemoveServer(id string) error
	Restore(r io.Reader, size int64) error
}

// State is the replicated state the API reads.
type State interface {
	Get(kind, id string) (api.Object, bool, error)
	List(kind string) ([]api.Object, error)
	Changes(after uint64, limit int) (api.ChangeFeed, error)
	Changed() <-chan struct{}
	Audit(limit int) ([]api.AuditEntry, error)
	Token(hash string) (api.TokenInfo, bool, error)
	Tokens() ([]api.TokenInfo, error)
	TokenByID(id string) (hash string, info api.TokenInfo, found bool, err error)
	Nodes() (map[string]fsm.NodeRegister, error)
	Cluster() (fsm.ClusterInfo, error)
	WriteSnapshot(w io.Writer) error
	ContactStats() (uint64, []fsm.AgentContacts, error)
	CA() (fsm.ClusterCA, bool, error)
	Agents() ([]fsm.Agent, error)
	Agent(id string) (fsm.Agent, bool, error)
	LastChange() uint64
	GossipKeys() ([][]byte, error)
	ContactsByCustomer(customer string, since time.Time, limit int) ([]protocol.ContactEvent, error)
}

// Config configures the API.
type Config struct {
	// HTTPAddr is this node's advertised admin address (host:port).
	HTTPAddr string
	// Scheme is "http" or "https" for reaching other nodes.
	Scheme  string
	Version string
	// TmpDir holds uploaded snapshots while they are verified.
	TmpDir string
	Logger *slog.Logger
	// Now is the clock stamped into commands (the FSM reads none).
	Now func() time.Time
	// ForwardClient reaches other nodes; it must trust their certificates.
	ForwardClient *http.Client
	// Fleet is the node's live view of agents (gossip and sessions); nil
	// reports every agent dead.
	Fleet Fleet
	// Metrics serves GET /metrics (nil: no endpoint).
	Metrics http.Handler
	// Ready reports whether the node serves: a nil error is ready.
	Ready func() error
	// Disk watches the node's data directory's free space (nil: not
	// reported).
	Disk *diskspace.Guard
}

// Fleet is the live state of agents as this node sees it, keyed by agent
// id: Status, ConfigIndex, OutboxBacklog, Version, LastSeen, Session and
// GossipAddr filled in; the API merges it with the registry.
type Fleet interface {
	LiveAgents() map[string]api.FleetAgent
}

// Body limits per endpoint.
const (
	limitSmall    = 64 << 10
	limitCatalog  = 2 << 20
	limitSnapshot = 4 << 30
)

// Server is the admin API handler.
type Server struct {
	cfg   Config
	store Store
	state State
	log   *slog.Logger
	mux   *api.Mux
	fwd   *http.Client
	docs  *catalog.Parser
}

// New builds the API.
func New(cfg Config, st Store, state State) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Scheme == "" {
		cfg.Scheme = "http"
	}
	fwd := cfg.ForwardClient
	if fwd == nil {
		fwd = &http.Client{} // every forward bounds itself (mode.timeout)
	}
	s := &Server{cfg: cfg, store: st, state: state, log: cfg.Logger.With("component", "adminapi"), mux: api.NewMux(), fwd: fwd, docs: catalog.NewParser()}
	s.routes()
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Route modes.
type mode int

const (
	// local: served by the node that receives it.
	local mode = iota
	// leaderRead: forwarded to the leader and made linearizable there,
	// unless the request says ?stale.
	leaderRead
	// leaderWrite: forwarded to the leader and applied through Raft.
	leaderWrite
	// leaderJob: a leaderWrite that runs for minutes (segmentation over
	// a million customers), with jobTimeout instead of requestTimeout,
	// forwarded and served alike.
	leaderJob
)

// How long a request may take on the node that serves it.
const (
	requestTimeout = 30 * time.Second
	jobTimeout     = 15 * time.Minute
)

func (m mode) timeout() time.Duration {
	if m == leaderJob {
		return jobTimeout
	}
	return requestTimeout
}

var (
	anyRole    = api.Roles
	adminOnly  = []string{api.RoleAdmin}
	operators  = []string{api.RoleAdmin, api.RoleOperator}
	cataloguer = []string{api.RoleAdmin, api.RoleAnalyst}
	// Contacts name customers: viewers do not see them.
	ledgerReaders = []string{api.RoleAdmin, api.RoleOperator, api.RoleAnalyst}
)

// request is what a handler gets.
type request struct {
	r     *http.Request
	body  []byte
	who   api.TokenInfo
	reqID string
}

type handlerFunc func(ctx context.Context, q *request) (any, error)

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok", "state": s.store.State()})
	})
	s.mux.HandleFunc("GET /v1/cluster/members/{id}", s.membership)
	s.route("GET /v1/cluster/self", local, anyRole, limitSmall, s.self)
	s.route("GET /v1/cluster/status", local, anyRole, limitSmall, s.clusterStatus)
	s.route("POST /v1/cluster/join", leaderWrite, adminOnly, limitSmall, s.join)
	s.route("POST /v1/cluster/remove", leaderWrite, operators, limitSmall, s.remove)
	s.route("GET /v1/cluster/snapshot", leaderRead, adminOnly, limitSmall, nil)
	s.route("POST /v1/cluster/snapshot", leaderWrite, adminOnly, limitSnapshot, nil)
	s.route("POST /v1/catalog", leaderWrite, cataloguer, limitCatalog, s.applyCatalog)
	s.route("GET /v1/catalog/{kind}", leaderRead, anyRole, limitSmall, s.listCatalog)
	s.route("GET /v1/catalog/{kind}/{id}", leaderRead, anyRole, limitSmall, s.getCatalog)
	s.route("DELETE /v1/catalog/{kind}/{id}", leaderWrite, cataloguer, limitSmall, s.deleteCatalog)
	s.route("GET /v1/changes", leaderRead, anyRole, limitSmall, s.changes)
	s.route("GET /v1/audit", leaderRead, operators, limitSmall, s.audit)
	s.route("GET /v1/contacts/stats", leaderRead, ledgerReaders, limitSmall, s.contactStats)
	s.route("GET /v1/contacts", leaderRead, ledgerReaders, limitSmall, s.contacts)
	s.route("POST /v1/contacts/import", leaderWrite, operators, limitImport, s.importContacts)
	s.route("GET /v1/campaigns/{id}/report", leaderRead, ledgerReaders, limitSmall, s.campaignReport)
	s.route("POST /v1/fleet/tokens", leaderWrite, operators, limitSmall, s.joinToken)
	s.route("POST /v1/fleet/revoke", leaderWrite, operators, limitSmall, s.revoke)
	s.route("GET /v1/fleet/agents", leaderRead, anyRole, limitSmall, s.fleetList)
	s.route("GET /v1/fleet/agents/{id}", leaderRead, anyRole, limitSmall, s.fleetShow)
	s.route("POST /v1/fleet/gossip-key", leaderWrite, operators, limitSmall, s.rotateGossipKey)
	s.route("POST /v1/customers", leaderWrite, operators, api.MaxCustomersBody, s.upsertCustomers)
	s.route("GET /v1/customers", leaderRead, anyRole, limitSmall, s.listCustomers)
	s.route("GET /v1/customers/{id}", leaderRead, anyRole, limitSmall, s.getCustomer)
	s.route("DELETE /v1/customers/{id}", leaderWrite, operators, limitSmall, s.eraseCustomer)
	s.route("POST /v1/segments/run", leaderJob, segmentRunners, limitCatalog, s.runSegments)
	s.route("POST /v1/propensities/learn", leaderJob, segmentRunners, limitSmall, s.learnPropensities)
	// Churn models and the watchlist (churn.go).
	s.route("POST /v1/models", leaderWrite, cataloguer, limitCatalog, s.storeModel)
	s.route("GET /v1/models", leaderRead, anyRole, limitSmall, s.listModels)
	s.route("POST /v1/models/{id}/activate", leaderWrite, cataloguer, limitSmall, s.activateModel)
	s.route("POST /v1/models/{id}/deactivate", leaderWrite, cataloguer, limitSmall, s.deactivateModel)
	s.route("GET /v1/churn/watchlist", leaderRead, ledgerReaders, limitSmall, s.churnWatchlist)
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Ready != nil {
			if err := s.cfg.Ready(); err != nil {
				api.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error(), "state": s.store.State()})
				return
			}
		}
		api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready", "state": s.store.State()})
	})
	if s.cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", s.cfg.Metrics)
	}
	s.route("POST /v1/tokens", leaderWrite, adminOnly, limitSmall, s.createToken)
	s.route("GET /v1/tokens", leaderRead, adminOnly, limitSmall, s.listTokens)
	s.route("POST /v1/tokens/revoke", leaderWrite, adminOnly, limitSmall, s.revokeToken)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		api.WriteError(w, api.Errorf(api.CodeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
}

func isStale(r *http.Request) bool {
	if !r.URL.Query().Has("stale") {
		return false
	}
	v := r.URL.Query().Get("stale")
	return v == "" || v == "true" || v == "1"
}

func (s *Server) route(pattern string, m mode, roles []string, limit int64, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		// Snapshots stream: they read and write the body themselves.
		if r.URL.Path == "/v1/cluster/snapshot" {
			s.serveSnapshot(w, r, roles)
			return
		}
		body, err := readBody(w, r, limit)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		stale := m == leaderRead && isStale(r)
		if m != local && !stale && !s.store.IsLeader() {
			s.forward(w, r, body, m.timeout())
			return
		}
		who, err := s.authenticate(r, roles)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), m.timeout())
		defer cancel()
		if m == leaderRead && !stale {
			if err := s.store.ReadIndex(ctx); err != nil {
				if errors.Is(err, store.ErrNotLeader) && r.Header.Get(api.HeaderForwarded) == "" {
					s.forward(w, r, body, m.timeout())
					return
				}
				api.WriteError(w, storeError(err))
				return
			}
		}
		q := &request{r: r, body: body, who: who, reqID: r.Header.Get(api.HeaderRequestID)}
		if err := checkRequestID(q.reqID); err != nil {
			api.WriteError(w, err)
			return
		}
		if q.reqID == "" && (m == leaderWrite || m == leaderJob) {
			q.reqID = api.NewRequestID()
		}
		out, err := h(ctx, q)
		if err != nil {
			if errors.Is(err, store.ErrNotLeader) && r.Header.Get(api.HeaderForwarded) == "" {
				// Lost leadership between the check and the apply: the
				// request id makes the forwarded retry safe.
				r.Header.Set(api.HeaderRequestID, q.reqID)
				s.forward(w, r, body, m.timeout())
				return
			}
			api.WriteError(w, storeError(err))
			return
		}
		status := http.StatusOK
		switch m {
		case leaderWrite, leaderJob:
			if wr, ok := out.(interface{ index() uint64 }); ok {
				w.Header().Set(api.HeaderIndex, uitoa(wr.index()))
			}
		default:
			_, _, _, applied := s.store.Indexes()
			w.Header().Set(api.HeaderIndex, uitoa(applied))
		}
		api.WriteJSON(w, status, out)
	})
}

// checkRequestID keeps request ids to printable ASCII of a sane length:
// they are deduplication keys, and two different malformed ids must not
// collapse into one.
func checkRequestID(id string) error {
	if len(id) > 128 {
		return api.Errorf(api.CodeBadRequest, "%s is longer than 128 characters", api.HeaderRequestID)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return api.Errorf(api.CodeBadRequest, "%s may hold only printable ASCII characters", api.HeaderRequestID)
		}
	}
	return nil
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, api.Errorf(api.CodeBodyTooLarge, "request body of %d bytes exceeds this endpoint's limit of %d", r.ContentLength, limit)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, api.Errorf(api.CodeBodyTooLarge, "request body exceeds this endpoint's limit of %d bytes", limit)
		}
		return nil, api.Errorf(api.CodeBadRequest, "read body: %v", err)
	}
	return b, nil
}

// HashToken is how tokens are stored: hex SHA-256 of the secret.
func HashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// TokenID is a token's public name: the first 12 hex digits of its hash.
func TokenID(tok string) string { return HashToken(tok)[:12] }

func (s *Server) authenticate(r *http.Request, roles []string) (api.TokenInfo, error) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return api.TokenInfo{}, api.Errorf(api.CodeUnauthorized, "missing bearer token: pass --token or set TOUCHPOINT_TOKEN")
	}
	info, found, err := s.state.Token(HashToken(strings.TrimSpace(tok)))
	if err != nil {
		return api.TokenInfo{}, api.Errorf(api.CodeInternal, "look up token: %v", err)
	}
	if !found {
		return api.TokenInfo{}, api.Errorf(api.CodeUnauthorized, "unknown token")
	}
	for _, role := range roles {
		if info.Role == role {
			return info, nil
		}
	}
	return api.TokenInfo{}, api.Errorf(api.CodeForbidden, "role %s may not do this (needs one of %s)", info.Role, strings.Join(roles, ", "))
}

func storeError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotLeader), errors.Is(err, store.ErrNoLeader):
		return api.Errorf(api.CodeNoLeader, "no leader is available right now; retry shortly")
	case errors.Is(err, store.ErrOutcomeUnknown):
		return api.Errorf(api.CodeNoLeader, "%v; retrying with the same %s is safe", err, api.HeaderRequestID)
	case errors.Is(err, context.DeadlineExceeded):
		return api.Errorf(api.CodeTimeout, "%v", err)
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae
	}
	return api.Errorf(api.CodeInternal, "%v", err)
}

func uitoa(v uint64) string {
	b, _ := json.Marshal(v)
	return string(b)
}
