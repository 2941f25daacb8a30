package agent

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"touchpoint.dev/touchpoint/agent/cache"
	"touchpoint.dev/touchpoint/agent/link"
	"touchpoint.dev/touchpoint/agent/outbox"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/diskspace"
)

// Channels an agent may serve.
var Channels = []string{protocol.ChannelKiosk, protocol.ChannelIVR, protocol.ChannelTerminal}

// Config configures an agent.
type Config struct {
	// ID names the agent in the fleet (protocol.ValidAgentID).
	ID string
	// DataDir holds identity/, cache/ and outbox/.
	DataDir string
	// Site is where the agent stands (a store, a call centre).
	Site string
	// Channel is what the agent serves: kiosk, ivr or terminal.
	Channel string
	// HTTPAddr is the API's host:port (port 0 picks one; see Addr).
	// Default 127.0.0.1:7480.
	HTTPAddr string
	// ControlPlane lists control-plane QUIC addresses (host:port). The
	// servers the cluster announces are remembered in the identity
	// directory and tried too.
	ControlPlane []string
	// JoinToken enrolls an agent that has no identity; it is ignored once
	// the agent is enrolled.
	JoinToken string
	// GossipAddr is the gossip bind address (host:port). Default: the host
	// of HTTPAddr with port 0 (a free port).
	GossipAddr string
	// GossipJoin lists gossip members to join besides the servers'.
	GossipJoin []string
	// Region is the region whose customer profiles the agent prefetches
	// and keeps current; others are fetched on demand. Customers without a
	// region are prefetched when there are at most UnregionedMax of them
	// (default 50,000; negative: never).
	Region        string
	UnregionedMax int
	// Timezone is the IANA zone of the rules' now (now.Hour() and the
	// like), whatever the host's zone. Default protocol.DefaultTimezone.
	Timezone string
	// CacheMemory sizes the cache's badger (see cache.DefaultMemory).
	CacheMemory struct{ MemTableMB, NumMemtables, BlockCacheMB, IndexCacheMB int }
	// APIKey, when set, is required on every API call except /healthz,
	// /readyz and /metrics, as "Authorization: Bearer KEY" or "X-API-Key".
	APIKey string
	// OutboxMaxBytes bounds the unsent events (default 256 MiB).
	OutboxMaxBytes int64
	// MinFreeDisk is the free space, in bytes, the agent keeps under
	// DataDir: below it contacts are refused (insufficient_storage) and
	// the cache takes no changes until space is freed, instead of badger
	// crashing on a full disk. Decisions go on from the cache. 0 turns
	// the check off; the touchpoint command's default is
	// DefaultMinFreeDisk.
	MinFreeDisk uint64
	// DiskFree reads the free bytes under a directory (tests; default
	// the file system's count, statfs).
	DiskFree func(dir string) (uint64, error)
	// EncryptionKeyFile holds the key that encrypts the cache and the
	// outbox at rest: 16, 24 or 32 raw bytes, or that many bytes in hex.
	EncryptionKeyFile string
	Version           string
	Logger            *slog.Logger
	Now               func() time.Time
	// LinkTiming overrides the link's timing (tests).
	LinkTiming link.Timing
	// GossipTiming overrides gossip's timing (tests).
	GossipTiming GossipTiming
}

// GossipTiming holds gossip knobs; zero fields take the defaults.
type GossipTiming struct {
	// MetaEvery is how often the agent gossips its metadata with a new
	// heartbeat beat (the control plane calls an agent unheard for 2.5
	// beats suspect). Default protocol.GossipBeatInterval.
	MetaEvery time.Duration
	// RejoinEvery is how often server gossip addresses that are not
	// members are joined again. Default 30s.
	RejoinEvery time.Duration
	// Memberlist failure detection (zero: memberlist's LAN defaults).
	ProbeInterval  time.Duration
	ProbeTimeout   time.Duration
	GossipInterval time.Duration
	SuspicionMult  int
}

const defaultHTTPAddr = "127.0.0.1:7480"

// ConfigError is a Config value New refuses (a bad id, channel or
// address): the caller's mistake, not the machine's. The touchpoint command
// reports it as a usage error.
type ConfigError struct {
	// Setting names the value as the touchpoint agent command's flag does,
	// without the dashes: "channel", "http-addr".
	Setting string
	Value   string
	// Err says what is wrong with the value.
	Err error
}

func (e *ConfigError) Error() string {
	what := e.Setting
	if what == "id" {
		what = "agent id"
	}
	return fmt.Sprintf("%s %q: %v", what, e.Value, e.Err)
}
func (e *ConfigError) Unwrap() error { return e.Err }

// ErrDataDirInUse is New's error when another process (another agent on
// the same data directory) holds the agent's stores open.
var ErrDataDirInUse = errors.New("another agent process is running on this data directory")

// badgerLocked is how badger (v4) says that another process holds a
// database directory's lock. It has no sentinel for it and flattens the
// flock error into its message (no %w), so the message is what tells;
// TestNew_SecondAgentOnALiveDataDirectory fails if a badger upgrade
// changes it.
const badgerLocked = "Another process is using this Badger database"

// storeInUse turns badger's refusal to open the store in dataDir/store,
// locked by another process, into ErrDataDirInUse, naming the data
// directory and, when badger's pid file says, the process. Any other error
// is returned as it is.
func storeInUse(dataDir, store string, err error) error {
	if err == nil || !strings.Contains(err.Error(), badgerLocked) {
		return err
	}
	dir := filepath.Join(dataDir, store)
	holder := "another process holds " + dir
	// Badger writes its pid to LOCK once it holds the lock.
	if b, rerr := os.ReadFile(filepath.Join(dir, "LOCK")); rerr == nil {
		if pid := strings.TrimSpace(string(b)); pid != "" && strings.Trim(pid, "0123456789") == "" {
			holder = "process " + pid + " holds " + dir
		}
	}
	return fmt.Errorf("%w, %s (%s): stop that agent first, or start this one with another data directory", ErrDataDirInUse, dataDir, holder)
}

func (c *Config) check() error {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = defaultHTTPAddr
	}
	if c.GossipTiming.MetaEvery <= 0 {
		c.GossipTiming.MetaEvery = protocol.GossipBeatInterval
	}
	if c.GossipTiming.RejoinEvery <= 0 {
		c.GossipTiming.RejoinEvery = 30 * time.Second
	}
	switch {
	case !protocol.ValidAgentID(c.ID):
		return &ConfigError{Setting: "id", Value: c.ID, Err: errors.New("use 1 to 128 letters, digits, '-', '_' or '.'")}
	case c.DataDir == "":
		return &ConfigError{Setting: "data-dir", Err: errors.New("a data directory is required")}
	case strings.TrimSpace(c.Site) == "" || len(c.Site) > 128:
		return &ConfigError{Setting: "site", Value: c.Site, Err: errors.New("give a name of 1 to 128 bytes")}
	case !slices.Contains(Channels, c.Channel):
		return &ConfigError{Setting: "channel", Value: c.Channel, Err: fmt.Errorf("use one of %s", strings.Join(Channels, ", "))}
	case c.Region != "" && !protocol.ValidAgentID(c.Region):
		return &ConfigError{Setting: "region", Value: c.Region, Err: errors.New("use 1 to 128 letters, digits, '-', '_' or '.'")}
	case c.OutboxMaxBytes < 0:
		return &ConfigError{Setting: "outbox-max-bytes", Value: fmt.Sprint(c.OutboxMaxBytes), Err: errors.New("a bound cannot be negative")}
	}
	if c.Timezone == "" {
		c.Timezone = protocol.DefaultTimezone
	}
	if _, err := protocol.LoadZone(c.Timezone); err != nil {
		return &ConfigError{Setting: "timezone", Value: c.Timezone, Err: err}
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return &ConfigError{Setting: "http-addr", Value: c.HTTPAddr, Err: err}
	}
	if c.GossipAddr == "" {
		host, _, _ := net.SplitHostPort(c.HTTPAddr)
		if host == "" {
			host = "0.0.0.0"
		}
		c.GossipAddr = net.JoinHostPort(host, "0")
	}
	if _, _, err := net.SplitHostPort(c.GossipAddr); err != nil {
		return &ConfigError{Setting: "gossip-addr", Value: c.GossipAddr, Err: err}
	}
	for _, l := range []struct {
		setting string
		addrs   []string
	}{{"controlplane", c.ControlPlane}, {"gossip-join", c.GossipJoin}} {
		for _, a := range l.addrs {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return &ConfigError{Setting: l.setting, Value: a, Err: err}
			}
		}
	}
	return nil
}

// ReadEncryptionKey reads a badger encryption key file: 32, 48 or 64 hex
// digits (surrounding whitespace allowed), or exactly 16, 24 or 32 raw
// bytes.
func ReadEncryptionKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read encryption key: %w", err)
	}
	if t := strings.TrimSpace(string(b)); len(t) == 32 || len(t) == 48 || len(t) == 64 {
		if k, err := hex.DecodeString(t); err == nil {
			return k, nil
		}
	}
	switch len(b) {
	case 16, 24, 32:
		return b, nil
	}
	return nil, fmt.Errorf("encryption key %s: want 16, 24 or 32 bytes, raw or in hex; the file holds %d bytes", path, len(b))
}

// Agent is the edge daemon: cache, outbox, link, gossip and the HTTP API.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	cache   *cache.Cache
	outbox  *outbox.Outbox
	disk    *diskspace.Guard
	link    *link.Link
	members *membership
	metrics *metrics
	ln      net.Listener
	srv     *http.Server
	started time.Time

	engines    *engines
	answers    sync.Pool // *answer, reused by postDecision
	lookups    sync.Pool // *lookup, one decision's reads (lookup.go)
	holdouts   chan protocol.ContactEvent
	held       heldRecently
	volumes    *offerVolumes
	refreshMu  sync.Mutex
	refreshing map[string]bool

	mu      sync.Mutex
	running bool
	closed  bool
	kill    bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// New opens the agent's stores, loads its identity and binds the HTTP
// address. It fails when the agent is not enrolled and has no join token.
func New(cfg Config) (*Agent, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	// Every line the agent and its stores log names the agent, once.
	cfg.Logger = cfg.Logger.With("agent", cfg.ID)
	a := &Agent{cfg: cfg, log: cfg.Logger.With("component", "agent"), started: cfg.Now()}
	var key []byte
	if cfg.EncryptionKeyFile != "" {
		var err error
		if key, err = ReadEncryptionKey(cfg.EncryptionKeyFile); err != nil {
			return nil, fmt.Errorf("agent: %w", err)
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("agent: create data directory: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			a.closeStores()
		}
	}()
	var err error
	a.disk = diskspace.New(diskspace.Config{Dir: cfg.DataDir, Floor: cfg.MinFreeDisk, Free: cfg.DiskFree})
	m := cfg.CacheMemory
	a.cache, err = cache.Open(cache.Config{Dir: filepath.Join(cfg.DataDir, "cache"), EncryptionKey: key, Logger: cfg.Logger,
		MemTableMB: m.MemTableMB, NumMemtables: m.NumMemtables, BlockCacheMB: m.BlockCacheMB, IndexCacheMB: m.IndexCacheMB,
		Disk: a.disk})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", storeInUse(cfg.DataDir, "cache", err))
	}
	a.outbox, err = outbox.Open(outbox.Config{
		Dir: filepath.Join(cfg.DataDir, "outbox"), AgentID: cfg.ID, MaxBytes: cfg.OutboxMaxBytes,
		Logger: cfg.Logger, Now: cfg.Now, EncryptionKey: key, Disk: a.disk,
		Enrolled: link.HasIdentity(filepath.Join(cfg.DataDir, "identity")),
	})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", storeInUse(cfg.DataDir, "outbox", err))
	}
	a.members = newMembership(a)
	// The gossip address goes to the registry at enrollment only when it
	// is a real one (port 0 is chosen later, once keys allow gossip).
	enrollGossip := ""
	if _, port, _ := net.SplitHostPort(cfg.GossipAddr); port != "0" {
		enrollGossip = cfg.GossipAddr
	}
	a.volumes = &offerVolumes{acked: func() uint64 { return a.outbox.Stats().Acked }, now: cfg.Now,
		save: func(m map[string]int64) {
			if err := a.cache.SaveVolumes(m); err != nil {
				a.log.Warn("offer volumes not saved: after a restart cut off from the control plane, volume caps count from what was saved before", "error", err)
			}
		}}
	// Restarted cut off from the control plane, the agent still reaches
	// the volume caps it had reached.
	if saved, ok, err := a.cache.Volumes(); err != nil {
		a.log.Warn("saved offer volumes not read: volume caps count from 0 until the control plane sends its counts", "error", err)
	} else if ok {
		a.volumes.setFleet(saved)
	}
	a.link, err = link.New(link.Config{
		AgentID: cfg.ID, Site: cfg.Site, Channel: cfg.Channel, Version: cfg.Version,
		Servers: cfg.ControlPlane, JoinToken: cfg.JoinToken,
		Dir: filepath.Join(cfg.DataDir, "identity"), GossipAddr: enrollGossip,
		Logger: cfg.Logger, Now: cfg.Now,
		OnKeyring: a.members.setKeys, OnServers: a.members.setServers, OnOfferVolumes: a.volumes.setFleet, OnOwnContacts: a.volumes.ownSeen,
		Region: cfg.Region, UnregionedMax: cfg.UnregionedMax,
		Timing: cfg.LinkTiming,
	}, a.cache, a.outbox)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	a.cache.SetRegion(cfg.Region, false)
	zone, _ := protocol.LoadZone(cfg.Timezone) // checked with the configuration
	a.engines = &engines{cache: a.cache, zone: zone}
	a.holdouts = make(chan protocol.ContactEvent, 1024)
	a.refreshing = map[string]bool{}
	a.metrics = newMetrics(a)
	a.ln, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("agent: listen on %s: %w", cfg.HTTPAddr, err)
	}
	a.srv = &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	ok = true
	return a, nil
}

// Addr is the HTTP API's address (with the port actually bound).
func (a *Agent) Addr() string { return a.ln.Addr().String() }

// URL is the HTTP API's base URL.
func (a *Agent) URL() string { return "http://" + a.Addr() }

// LinkStatus reports the link to the control plane.
func (a *Agent) LinkStatus() link.Status { return a.link.Status() }

// GossipAddr is the gossip address in use ("" until gossip has started).
func (a *Agent) GossipAddr() string { return a.members.addr() }

// Run serves the API and holds the link until ctx ends or Close is called,
// then shuts down in order. It returns an error when the API cannot serve
// or the cluster refused the enrollment for good.
func (a *Agent) Run(ctx context.Context) error {
	a.mu.Lock()
	if a.running || a.closed {
		a.mu.Unlock()
		return errors.New("agent: Run called twice or after Close")
	}
	a.running = true
	ctx, cancel := context.WithCancel(ctx)
	a.cancel = cancel
	a.done = make(chan struct{})
	a.mu.Unlock()
	defer close(a.done)
	defer cancel()

	a.log.Info("agent api listening", "http", a.URL(), "site", a.cfg.Site, "channel", a.cfg.Channel,
		"enrolled", a.link.Enrolled(), "config", a.cache.Position().String())
	errc := make(chan error, 2)
	go func() {
		if err := a.srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("agent: serve http: %w", err)
		}
	}()
	linkDone := make(chan struct{})
	go func() {
		defer close(linkDone)
		if err := a.link.Run(ctx); err != nil {
			errc <- fmt.Errorf("agent: %w", err)
		}
	}()
	go a.runHoldouts(ctx)
	go a.watchDisk(ctx)
	go a.volumes.run(ctx)
	go a.compileOnChange(ctx)
	gossipDone := make(chan struct{})
	go func() {
		defer close(gossipDone)
		a.members.run(ctx)
	}()

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		a.log.Error("agent stopping", "error", err)
	}
	cancel()
	a.shutdown(linkDone, gossipDone)
	return err
}

// shutdown stops the parts in order: the API first (no new contacts), then
// the link (nothing more sent; unacknowledged events stay in the outbox),
// gossip (a goodbye unless killed), and last the stores.
func (a *Agent) shutdown(linkDone, gossipDone <-chan struct{}) {
	a.mu.Lock()
	kill := a.kill
	a.mu.Unlock()
	if kill {
		_ = a.srv.Close()
	} else {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := a.srv.Shutdown(sctx); err != nil {
			a.log.Warn("http shutdown", "error", err)
			_ = a.srv.Close()
		}
		cancel()
	}
	_ = a.link.Close()
	<-linkDone
	<-gossipDone
	a.members.stop(!kill)
	a.closeStores()
	a.log.Info("agent stopped")
}

func (a *Agent) closeStores() {
	if a.outbox != nil {
		if err := a.outbox.Close(); err != nil {
			a.log.Warn("close outbox", "error", err)
		}
	}
	if a.cache != nil {
		if err := a.cache.Close(); err != nil {
			a.log.Warn("close cache", "error", err)
		}
	}
}

// Close stops Run and waits for the shutdown; without Run it releases what
// New opened. It is idempotent.
func (a *Agent) Close() error {
	a.mu.Lock()
	if a.closed {
		done := a.done
		a.mu.Unlock()
		if done != nil {
			<-done
		}
		return nil
	}
	a.closed = true
	running, cancel, done := a.running, a.cancel, a.done
	a.mu.Unlock()
	if running {
		cancel()
		<-done
		return nil
	}
	_ = a.ln.Close()
	_ = a.link.Close()
	a.closeStores()
	return nil
}

// Kill stops the agent without goodbyes: connections are cut, gossip
// stops without leaving. Tests use it to play a crash (the stores are
// still closed cleanly; badger's crash recovery is the outbox's own test).
func (a *Agent) Kill() {
	a.mu.Lock()
	a.kill = true
	a.mu.Unlock()
	_ = a.Close()
}
