// Package controlplane wires a control-plane node: the Raft store with its
// badger FSM, and the admin API. Server.Run bootstraps or joins a cluster on
// first start, restarts from the data directory otherwise, and shuts down
// in order.
package controlplane

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"touchpoint.dev/touchpoint/controlplane/adminapi"
	"touchpoint.dev/touchpoint/controlplane/enroll"
	"touchpoint.dev/touchpoint/controlplane/fleet"
	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/controlplane/gateway"
	"touchpoint.dev/touchpoint/controlplane/store"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/diskspace"
)

// Config configures a node.
type Config struct {
	ID      string
	DataDir string
	// RaftAddr and HTTPAddr are bind addresses (host:0 picks a port); the
	// advertise addresses default to the bound ones.
	RaftAddr      string
	RaftAdvertise string
	HTTPAddr      string
	HTTPAdvertise string
	// QUICAddr is the agent gateway's UDP bind address (empty: no
	// gateway); QUICAdvertise what agents dial (default: the bound one).
	QUICAddr      string
	QUICAdvertise string
	// GossipAddr is the memberlist bind address (empty: no gossip);
	// GossipAdvertise what other members dial.
	GossipAddr      string
	GossipAdvertise string
	// GossipTiming overrides memberlist's LAN timing (tests).
	GossipTiming GossipTiming
	// LearnPropensitiesEvery: while leader, the node learns the offers'
	// propensities from the ledger this often and applies the table when
	// new outcomes changed it (adminapi.Server.LearnPropensities); 0 is
	// off.
	LearnPropensitiesEvery time.Duration
	// Gateway tunes the gateway (timeouts); addresses and identity are
	// filled in from the fields above.
	Gateway gateway.Config
	// Bootstrap starts a new cluster; Join is any member's admin URL. Both
	// are ignored when the data directory already holds state.
	Bootstrap bool
	Join      string
	// Token authenticates Join.
	Token   string
	TLSCert string
	TLSKey  string
	Version string
	Logger  *slog.Logger
	// Now is the clock stamped into commands; default time.Now.
	Now func() time.Time
	// MinFreeDisk is the free space, in bytes, the node keeps under
	// DataDir: below it the cluster refuses writes (insufficient_storage)
	// instead of badger crashing on a full disk. 0 turns the check off;
	// the touchpoint command's default is DefaultMinFreeDisk.
	MinFreeDisk uint64
	// DiskFree reads the free bytes under a directory (tests; default
	// the file system's count, statfs).
	DiskFree func(dir string) (uint64, error)

	// Raft holds raft timing and FSM retention; ID, DataDir, addresses and
	// Bootstrap are filled in from the fields above.
	Raft store.Config
}

// GossipTiming tunes memberlist; zero values keep its LAN defaults.
type GossipTiming struct {
	ProbeInterval, ProbeTimeout, GossipInterval time.Duration
	SuspicionMult                               int
	// SuspectAfter: an agent unheard this long is suspect (default 2.5
	// protocol.GossipBeatInterval).
	SuspectAfter time.Duration
}

// AdminTokenFile is where the bootstrap node writes the first admin token.
const AdminTokenFile = "admin.token"

// Server is one control-plane node.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    *store.Store
	api      *adminapi.Server
	gw       *gateway.Gateway
	fleet    atomic.Pointer[fleet.Fleet]
	killed   atomic.Bool // Kill: leave no goodbyes (gossip sees a crash)
	ln       net.Listener
	http     *http.Server
	httpAddr string
	existing bool
	// peers asks the other nodes' admin APIs (scheme "http" or "https")
	// whether this node is still a member (membership.go).
	peers  *http.Client
	scheme string
	// member is set once this node has seen itself in its Raft
	// configuration (membership.go); inConfig, when set, stands in for
	// the store's InConfiguration (a test's fake).
	member   atomic.Bool
	inConfig func() (in, known bool, err error)
	// disk watches DataDir's free space; diskLow is what watchDisk last
	// logged and gossiped, lowPeerID the peer it last saw gossip a low
	// disk (disk.go).
	disk      *diskspace.Guard
	diskLow   atomic.Bool
	lowPeerID atomic.Value // string: lowPeer's answer at the last watchDisk

	closeOnce sync.Once
	closeErr  error
	done      chan struct{}
	// fatal carries an error that ends Run (a join the cluster refused).
	fatal chan error
}

// New opens the node's state and binds its listeners. Run starts serving.
func New(cfg Config) (*Server, error) {
	if cfg.ID == "" || cfg.DataDir == "" {
		return nil, errors.New("controlplane: --id and --data-dir are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("controlplane: --tls-cert and --tls-key go together")
	}
	log := cfg.Logger.With("node", cfg.ID)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	s := &Server{cfg: cfg, log: log, done: make(chan struct{}), fatal: make(chan error, 1),
		disk: diskspace.New(diskspace.Config{Dir: cfg.DataDir, Floor: cfg.MinFreeDisk, Free: cfg.DiskFree})}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen http %s: %w", cfg.HTTPAddr, err)
	}
	s.ln = ln
	s.httpAddr = ln.Addr().String()
	if cfg.HTTPAdvertise != "" {
		s.httpAddr = cfg.HTTPAdvertise
	} else if ln.Addr().(*net.TCPAddr).IP.IsUnspecified() {
		ln.Close()
		return nil, fmt.Errorf("http address %s binds every interface: give --http-advertise", cfg.HTTPAddr)
	}

	rc := cfg.Raft
	rc.ID, rc.DataDir, rc.RaftAddr, rc.Advertise = cfg.ID, cfg.DataDir, cfg.RaftAddr, cfg.RaftAdvertise
	rc.Bootstrap = cfg.Bootstrap
	rc.Logger = log
	rc.WriteGuard = s.writeGuard
	st, err := store.Open(rc)
	if err != nil {
		ln.Close()
		return nil, err
	}
	s.store = st
	s.existing = st.Existing()
	if !s.existing && !cfg.Bootstrap && cfg.Join == "" {
		// Raft would wait for ever for a cluster that does not know it.
		_ = st.Close(false)
		ln.Close()
		return nil, fmt.Errorf("data directory %s holds no cluster state: start the first node with --bootstrap, the others with --join URL (any member's admin URL)", cfg.DataDir)
	}
	if s.existing {
		if err := s.checkMember(); err != nil {
			_ = st.Close(false)
			ln.Close()
			return nil, err
		}
	}
	if s.existing && (cfg.Bootstrap || cfg.Join != "") {
		log.Info("data directory holds cluster state: --bootstrap and --join are ignored", "bootstrap", cfg.Bootstrap, "join", cfg.Join)
	}

	scheme := "http"
	fwd := &http.Client{Timeout: 30 * time.Second}
	if cfg.TLSCert != "" {
		scheme = "https"
		// Nodes of one cluster share the admin certificate's trust; the
		// node-to-node client verifies against the system pool plus the
		// configured certificate itself (self-signed deployments).
		pool, err := certPool(cfg.TLSCert)
		if err != nil {
			st.Close(false)
			ln.Close()
			return nil, err
		}
		fwd.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	if cfg.QUICAddr != "" {
		gc := cfg.Gateway
		gc.NodeID, gc.Addr, gc.Advertise, gc.DataDir = cfg.ID, cfg.QUICAddr, cfg.QUICAdvertise, cfg.DataDir
		gc.Logger, gc.Now = log, cfg.Now
		gw, err := gateway.New(gc, st, st.FSM())
		if err != nil {
			st.Close(false)
			ln.Close()
			return nil, err
		}
		s.gw = gw
	}
	s.peers, s.scheme = fwd, scheme
	s.api = adminapi.New(adminapi.Config{
		HTTPAddr: s.httpAddr, Scheme: scheme, Version: cfg.Version, TmpDir: cfg.DataDir,
		Logger: log, Now: cfg.Now, ForwardClient: fwd,
		Fleet: s, Metrics: s.metricsHandler(), Ready: s.ready, Disk: s.disk,
	}, st, st.FSM())
	s.http = &http.Server{Handler: s.api, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	return s, nil
}

// QUICAddr is the gateway's advertised address ("" without a gateway).
func (s *Server) QUICAddr() string {
	if s.gw == nil {
		return ""
	}
	return s.gw.Addr()
}

// Gateway is the node's agent gateway (nil without one).
func (s *Server) Gateway() *gateway.Gateway { return s.gw }

// HTTPAddr is the node's advertised admin address.
func (s *Server) HTTPAddr() string { return s.httpAddr }

// RaftAddr is the node's raft address.
func (s *Server) RaftAddr() string { return s.store.RaftAddr() }

// Store exposes the raft store (tests and the demo inspect it).
func (s *Server) Store() *store.Store { return s.store }

// URL is the node's admin base URL.
func (s *Server) URL() string {
	if s.cfg.TLSCert != "" {
		return "https://" + s.httpAddr
	}
	return "http://" + s.httpAddr
}

// Run serves until ctx ends, then shuts down gracefully (leadership is
// handed over first). It bootstraps or joins on first start.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() {
		var err error
		if s.cfg.TLSCert != "" {
			err = s.http.ServeTLS(s.ln, s.cfg.TLSCert, s.cfg.TLSKey)
		} else {
			err = s.http.Serve(s.ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	go s.maintain(ctx)
	if s.cfg.LearnPropensitiesEvery > 0 {
		go s.learnPropensities(ctx, s.cfg.LearnPropensitiesEvery)
	}
	if s.cfg.GossipAddr != "" {
		go s.runGossip(ctx)
	}
	if s.gw != nil {
		go func() {
			if err := s.gw.Run(ctx); err != nil {
				s.log.Error("agent gateway stopped", "error", err)
			}
		}()
	}
	select {
	case <-ctx.Done():
		return s.Close()
	case err := <-errc:
		_ = s.Close()
		return fmt.Errorf("admin http: %w", err)
	case err := <-s.fatal:
		// Bounded: stores whose files are gone can block their close.
		closed := make(chan struct{})
		go func() { _ = s.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(fatalCloseWait):
			s.log.Error("shutdown did not finish; stopping without it", "waited", fatalCloseWait)
		}
		return err
	case <-s.done:
		return s.closeErr
	}
}

// fatalCloseWait bounds the shutdown after a fatal error.
const fatalCloseWait = 10 * time.Second

// maintain does first-start work and keeps this node's registration right.
func (s *Server) maintain(ctx context.Context) {
	if !s.existing {
		switch {
		case s.cfg.Bootstrap:
			if err := s.initCluster(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("initialise cluster", "error", err)
			}
		case s.cfg.Join != "":
			s.joinCluster(ctx)
		}
	}
	s.recoverTokenFile()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var member membershipWatch
	for {
		if err := member.check(ctx, s); err != nil {
			s.log.Error("this node was removed from the cluster; stopping", "error", err)
			s.fail(err)
			return
		}
		if err := s.checkStorage(); err != nil {
			s.log.Error("this node's data directory is gone; stopping", "error", err)
			s.fail(err)
			return
		}
		s.watchDisk()
		if s.store.IsLeader() {
			if err := s.registerSelf(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("register node", "error", err)
			}
			if err := s.ensureGossipKeys(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("create gossip keyring", "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-t.C:
		}
	}
}

// learnPropensities runs the propensity job every interval while this node
// leads, so the agents' table follows the outcomes as they arrive.
func (s *Server) learnPropensities(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-t.C:
		}
		if !s.store.IsLeader() {
			continue
		}
		res, err := s.api.LearnPropensities(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("learn propensities", "error", err)
		case err == nil && !res.Unchanged:
			s.log.Info("propensities learned", "index", res.Index, "events", res.Events, "segments", res.Segments)
		}
	}
}

func (s *Server) applyLocal(ctx context.Context, t fsm.CommandType, payload any) (*fsm.Result, error) {
	cmd, err := fsm.Encode(t, 0, fsm.Envelope{Time: s.cfg.Now().UnixNano(), Actor: "node:" + s.cfg.ID, Role: api.RoleAdmin}, payload)
	if err != nil {
		return nil, err
	}
	res, err := s.store.Apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	if res.Err != nil {
		return res, res.Err
	}
	return res, nil
}

func (s *Server) registerSelf(ctx context.Context) error {
	nodes, err := s.store.FSM().Nodes()
	if err != nil {
		return err
	}
	want := fsm.NodeRegister{ID: s.cfg.ID, RaftAddr: s.store.RaftAddr(), HTTPAddr: s.httpAddr, QUICAddr: s.QUICAddr()}
	if f := s.fleet.Load(); f != nil {
		want.GossipAddr = f.Addr()
	}
	if nodes[s.cfg.ID] == want {
		return nil
	}
	_, err = s.applyLocal(ctx, fsm.CmdNodeRegister, want)
	return err
}

// ensureGossipKeys creates the gossip keyring once the cluster has none
// (a cluster initialised before gossip existed, or a fresh one).
func (s *Server) ensureGossipKeys(ctx context.Context) error {
	keys, err := s.store.FSM().GossipKeys()
	if err != nil || len(keys) > 0 {
		return err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	_, err = s.applyLocal(ctx, fsm.CmdGossipKeys, fsm.GossipKeys{Keys: [][]byte{key}})
	return err
}

// initCluster commits the cluster identity and the first admin token, then
// writes the token to DATA_DIR/admin.token. The token goes to a temporary
// file first so a crash between commit and rename loses nothing
// (recoverTokenFile finishes the job).
func (s *Server) initCluster(ctx context.Context) error {
	if _, err := s.store.WaitLeader(ctx); err != nil {
		return err
	}
	for !s.store.IsLeader() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := s.registerSelf(ctx); err != nil {
		return err
	}
	tok := adminapi.NewToken()
	tmp := filepath.Join(s.cfg.DataDir, AdminTokenFile+".tmp")
	if err := writeFileSync(tmp, []byte(tok+"\n")); err != nil {
		return err
	}
	clusterID := "tp-" + adminapi.HashToken(tok + "cluster")[:16]
	ca, err := enroll.NewCA(rand.Reader, clusterID, s.cfg.Now())
	if err != nil {
		return fmt.Errorf("create cluster CA: %w", err)
	}
	certPEM, keyPEM, err := ca.MarshalPEM()
	if err != nil {
		return fmt.Errorf("encode cluster CA: %w", err)
	}
	_, err = s.applyLocal(ctx, fsm.CmdInitCluster, fsm.InitCluster{
		ClusterID: clusterID,
		TokenID:   adminapi.TokenID(tok),
		TokenHash: adminapi.HashToken(tok),
		CA:        &fsm.ClusterCA{CertPEM: string(certPEM), KeyPEM: string(keyPEM)},
	})
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(s.cfg.DataDir, AdminTokenFile)); err != nil {
		return fmt.Errorf("install admin token: %w", err)
	}
	s.log.Info("cluster initialised; admin token written", "file", filepath.Join(s.cfg.DataDir, AdminTokenFile))
	return nil
}

// recoverTokenFile renames a leftover admin.token.tmp into place when the
// token it holds was committed.
func (s *Server) recoverTokenFile() {
	tmp := filepath.Join(s.cfg.DataDir, AdminTokenFile+".tmp")
	b, err := os.ReadFile(tmp)
	if err != nil {
		return
	}
	if _, found, err := s.store.FSM().Token(adminapi.HashToken(strings.TrimSpace(string(b)))); err == nil && found {
		if err := os.Rename(tmp, filepath.Join(s.cfg.DataDir, AdminTokenFile)); err == nil {
			s.log.Info("admin token file recovered")
		}
		return
	}
	_ = os.Remove(tmp)
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}

// joinCluster asks an existing member to add this node, retrying with
// backoff until it is in.
func (s *Server) joinCluster(ctx context.Context) {
	var hc *http.Client
	if strings.HasPrefix(s.cfg.Join, "https://") && s.cfg.TLSCert != "" {
		if pool, err := certPool(s.cfg.TLSCert); err == nil {
			hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
		}
	}
	c := api.NewClient(s.cfg.Join, s.cfg.Token, hc)
	backoff := 200 * time.Millisecond
	for {
		err := c.Join(ctx, api.JoinRequest{ID: s.cfg.ID, RaftAddr: s.store.RaftAddr(), HTTPAddr: s.httpAddr, QUICAddr: s.QUICAddr()})
		if err == nil {
			s.log.Info("joined cluster", "via", s.cfg.Join)
			return
		}
		if joinRefused(err) {
			s.log.Error("join refused", "via", s.cfg.Join, "error", err)
			s.fail(fmt.Errorf("join via %s: %w", s.cfg.Join, err))
			return
		}
		s.log.Warn("join failed; retrying", "via", s.cfg.Join, "error", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// joinRefused tells a join that can never succeed as asked (a wrong or
// weak token, a URL that is no member's admin API, a bad request) from
// one that may once the cluster has a leader or answers.
func joinRefused(err error) bool {
	var ae *api.Error
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Code {
	case api.CodeUnauthorized, api.CodeForbidden, api.CodeNotFound, api.CodeBadRequest,
		api.CodeInvalidJSON, api.CodeUnknownField, api.CodeMissingField, api.CodeInvalidField:
		return true
	}
	return false
}

// checkStorage reports a data directory that vanished under the running
// node (rm -rf, an unmounted volume): the stores then fail on every write,
// while raft and the HTTP server would go on answering as if nothing were
// wrong. The fsm and raft directories are the node's state.
func (s *Server) checkStorage() error {
	for _, d := range []string{"fsm", "raft"} {
		if _, err := os.Stat(filepath.Join(s.cfg.DataDir, d)); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("data directory %s: its %s/ is gone, so nothing this node commits from now on is stored: %w", s.cfg.DataDir, d, err)
		}
	}
	return nil
}

// fail ends Run with err (the first one only).
func (s *Server) fail(err error) {
	select {
	case s.fatal <- err:
	default:
	}
}

// Close shuts down in order: stop taking admin requests, hand leadership
// over, stop raft, close the stores.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		herr := s.http.Shutdown(ctx)
		if s.gw != nil {
			_ = s.gw.Close()
		}
		if f := s.fleet.Load(); f != nil {
			// Tell the pool this node left (a crash would leave it to be
			// declared dead).
			_ = f.Leave(time.Second)
			_ = f.Shutdown()
		}
		serr := s.store.Close(true)
		s.closeErr = errors.Join(herr, serr)
		if s.closeErr != nil {
			s.log.Error("node stopped", "error", s.closeErr)
		} else {
			s.log.Info("node stopped")
		}
		close(s.done)
	})
	return s.closeErr
}

// Kill stops the node abruptly, as a crash would look to its peers: the
// listeners drop, no leadership transfer, no flush beyond what each write
// already made durable. Tests use it; the durable-state tests that matter
// also kill real processes with SIGKILL.
func (s *Server) Kill() {
	s.killed.Store(true)
	if f := s.fleet.Load(); f != nil {
		_ = f.Shutdown()
	}
	s.closeOnce.Do(func() {
		_ = s.ln.Close()
		_ = s.http.Close()
		if s.gw != nil {
			s.gw.Kill()
		}
		_ = s.store.Close(false)
		close(s.done)
	})
}
