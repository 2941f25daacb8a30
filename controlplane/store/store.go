// Package store runs hashicorp/raft for the control plane: the Raft log and
// stable store in raft-wal, snapshots on disk, the FSM in badger. It offers
// linearizable writes (Apply, leader only), linearizable reads (ReadIndex:
// leader verification plus waiting for the applied index), membership
// changes and user snapshot save/restore. See DESIGN.md beside this file.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"

	"touchpoint.dev/touchpoint/controlplane/fsm"
)

// Config configures a store.
type Config struct {
	ID       string
	DataDir  string
	RaftAddr string // bind address; host:0 picks a free port
	// Advertise is the address other nodes dial; default the bound address.
	Advertise string
	Bootstrap bool
	Logger    *slog.Logger

	// Raft timing. Zero values take hashicorp/raft's defaults (1 s
	// heartbeat and election timeouts); tests shorten them.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	// CommitTimeout bounds how long a follower waits to learn that an
	// entry committed when no further entry follows it (raft sends the
	// commit index with the next append, or after CommitTimeout to
	// 2×CommitTimeout). Default DefaultCommitTimeout, not raft's 50 ms:
	// agents on a follower see a change only once the follower applies
	// it, and the propagation target is 100 ms for all of them.
	CommitTimeout     time.Duration
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	// ApplyTimeout bounds how long Apply waits to enqueue (default 10 s).
	ApplyTimeout time.Duration
	// WrapStream, if set, wraps raft's TCP stream layer (tests inject
	// network partitions with it).
	WrapStream func(raft.StreamLayer) raft.StreamLayer
	// WriteGuard, if set, is asked before each proposal: an error refuses
	// it and is returned by Apply as it is (the node refuses writes while
	// a disk in the cluster runs low).
	WriteGuard func(cmd []byte) error

	FSM fsm.Config
}

// DefaultCommitTimeout is Config.CommitTimeout's default. While idle, a
// leader sends each follower an empty append every 5–10 ms with it: a few
// hundred small RPCs a second, cheap next to a change reaching agents up to
// 100 ms late.
const DefaultCommitTimeout = 5 * time.Millisecond

// Errors callers branch on.
var (
	ErrNotLeader = errors.New("not the leader")
	ErrNoLeader  = errors.New("no leader")
	// ErrOutcomeUnknown: leadership changed while a write was in flight;
	// it may still commit. Retry with the same request id.
	ErrOutcomeUnknown = errors.New("leadership changed while the write was in flight")
)

// Store is one control-plane node's Raft.
type Store struct {
	cfg   Config
	log   *slog.Logger
	raft  *raft.Raft
	fsm   *fsm.FSM
	wal   *raftwal.WAL
	meta  *metadb.BoltMetaDB
	trans *raft.NetworkTransport
	snaps raft.SnapshotStore

	// readyTerm is the term in which this node, as leader, has applied a
	// barrier: only then does its commit index cover every entry committed
	// by earlier leaders, so only then may it serve reads.
	readyTerm atomic.Uint64
	closed    atomic.Bool
	existing  bool
}

// Open starts raft on the data directory. A node with existing state
// restarts from it and ignores Bootstrap.
func Open(cfg Config) (*Store, error) {
	if cfg.ID == "" || cfg.DataDir == "" || cfg.RaftAddr == "" {
		return nil, errors.New("store: ID, DataDir and RaftAddr are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ApplyTimeout == 0 {
		cfg.ApplyTimeout = 10 * time.Second
	}
	s := &Store{cfg: cfg, log: cfg.Logger.With("component", "store")}
	if err := s.open(); err != nil {
		s.closeStores()
		return nil, err
	}
	return s, nil
}

// openLog opens the Raft log (and stable store) in dir. raft-wal does not
// close its metadata database (bolt, which holds a file lock) in
// WAL.Close: the caller owns meta and closes it, or a node could not
// reopen its directory in the same process.
//
// raft-wal must be v0.4.1 or later: before it, truncating the log's tail
// (Raft's "clearing log suffix", when a deposed leader drops entries it
// never replicated) sealed the segment without its index block, and the
// node panicked at every start after (hashicorp/raft-wal#31; wal_test.go).
func openLog(dir string, log hclog.Logger) (*raftwal.WAL, *metadb.BoltMetaDB, error) {
	meta := &metadb.BoltMetaDB{}
	wal, err := raftwal.Open(dir, raftwal.WithLogger(log), raftwal.WithMetaStore(meta))
	if err != nil {
		_ = meta.Close()
		return nil, nil, fmt.Errorf("open raft log: %w", err)
	}
	return wal, meta, nil
}

// newRaft is raft.NewRaft, with the panic it raises on a log entry it
// cannot read (while it scans the log for configuration changes) turned
// into an error that says what the operator can do.
func newRaft(rc *raft.Config, f raft.FSM, wal *raftwal.WAL, snaps raft.SnapshotStore, trans raft.Transport, dir string) (r *raft.Raft, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("raft log in %s cannot be read (%v): remove this node from the cluster from another member (touchpoint cluster remove ID), then empty its data directory and start it with --join URL; copy admin.token out first if this node holds it", dir, p)
		}
	}()
	r, err = raft.NewRaft(rc, f, wal, wal, snaps, trans)
	if err != nil {
		return nil, fmt.Errorf("start raft: %w", err)
	}
	return r, nil
}

func (s *Store) open() error {
	cfg := s.cfg
	for _, d := range []string{"raft", "snapshots", "fsm"} {
		if err := os.MkdirAll(filepath.Join(cfg.DataDir, d), 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	hl := newHCLogger(s.log)
	wal, meta, err := openLog(filepath.Join(cfg.DataDir, "raft"), hl.Named("wal"))
	if err != nil {
		return err
	}
	s.wal, s.meta = wal, meta
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(cfg.DataDir, "snapshots"), 2, hl)
	if err != nil {
		return fmt.Errorf("open snapshot store: %w", err)
	}
	s.snaps = snaps
	fcfg := cfg.FSM
	fcfg.Dir = filepath.Join(cfg.DataDir, "fsm")
	fcfg.Logger = cfg.Logger
	f, err := fsm.Open(fcfg)
	if err != nil {
		return err
	}
	s.fsm = f

	ln, err := net.Listen("tcp", cfg.RaftAddr)
	if err != nil {
		return fmt.Errorf("listen raft %s: %w", cfg.RaftAddr, err)
	}
	adv := ln.Addr()
	if cfg.Advertise != "" {
		a, err := net.ResolveTCPAddr("tcp", cfg.Advertise)
		if err != nil {
			ln.Close()
			return fmt.Errorf("resolve raft advertise %s: %w", cfg.Advertise, err)
		}
		adv = a
	} else if ta := ln.Addr().(*net.TCPAddr); ta.IP.IsUnspecified() {
		ln.Close()
		return fmt.Errorf("raft address %s binds every interface: give --raft-advertise", cfg.RaftAddr)
	}
	var stream raft.StreamLayer = &tcpLayer{ln: ln, adv: adv}
	if cfg.WrapStream != nil {
		stream = cfg.WrapStream(stream)
	}
	s.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: 3,
		// No pipelined replication: with it, a follower answering
		// Success=false (a term change while a big entry is in flight)
		// can wedge the leader's replication goroutine for that follower
		// for good, and Shutdown with it (hashicorp/raft#612; seen here
		// after a leadership change under a million-customer
		// segmentation run: replication parked in netPipeline's
		// AppendEntries, Close waiting on it for minutes). One RPC in
		// flight per follower skips the pipeline code path entirely.
		MaxRPCsInFlight: 1,
		Timeout:         10 * time.Second,
		Logger:          hl,
	})

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.Logger = hl
	if cfg.HeartbeatTimeout > 0 {
		rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	}
	if cfg.ElectionTimeout > 0 {
		rc.ElectionTimeout = cfg.ElectionTimeout
	}
	if cfg.LeaderLeaseTimeout > 0 {
		rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	}
	rc.CommitTimeout = DefaultCommitTimeout
	if cfg.CommitTimeout > 0 {
		rc.CommitTimeout = cfg.CommitTimeout
	}
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
	}
	if cfg.SnapshotInterval > 0 {
		rc.SnapshotInterval = cfg.SnapshotInterval
	}
	if cfg.TrailingLogs > 0 {
		rc.TrailingLogs = cfg.TrailingLogs
	}
	// The FSM state is durable on its own: at start raft hands it the
	// latest snapshot and the FSM skips it when its own state is newer
	// (and skips log entries at or below its applied index).

	existing, err := raft.HasExistingState(wal, wal, snaps)
	if err != nil {
		return fmt.Errorf("check raft state: %w", err)
	}
	s.existing = existing
	r, err := newRaft(rc, f, wal, snaps, s.trans, filepath.Join(cfg.DataDir, "raft"))
	if err != nil {
		return err
	}
	s.raft = r
	f.Started()
	if cfg.Bootstrap && !existing {
		bf := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{
			Suffrage: raft.Voter, ID: raft.ServerID(cfg.ID), Address: s.trans.LocalAddr(),
		}}})
		if err := bf.Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return fmt.Errorf("bootstrap: %w", err)
		}
	}
	s.log.Info("raft started", "id", cfg.ID, "addr", s.trans.LocalAddr(), "existing", existing, "applied", f.Applied())
	return nil
}

// Existing reports whether the node had raft state when it started.
func (s *Store) Existing() bool { return s.existing }

// FSM returns the state machine for reads.
func (s *Store) FSM() *fsm.FSM { return s.fsm }

// ID is this node's id.
func (s *Store) ID() string { return s.cfg.ID }

// RaftAddr is the address other nodes reach this node's raft at.
func (s *Store) RaftAddr() string { return string(s.trans.LocalAddr()) }

// IsLeader reports whether this node is the leader now.
func (s *Store) IsLeader() bool { return s.raft.State() == raft.Leader }

// State is this node's raft state in lower case.
func (s *Store) State() string {
	switch s.raft.State() {
	case raft.Leader:
		return "leader"
	case raft.Candidate:
		return "candidate"
	case raft.Follower:
		return "follower"
	}
	return "shutdown"
}

// Leader returns the leader's id and raft address ("" when unknown).
func (s *Store) Leader() (id, addr string) {
	a, i := s.raft.LeaderWithID()
	return string(i), string(a)
}

// Indexes returns this node's term, last log index, commit index and FSM
// applied index.
func (s *Store) Indexes() (term, last, commit, applied uint64) {
	return s.raft.CurrentTerm(), s.raft.LastIndex(), s.raft.CommitIndex(), s.fsm.Applied()
}

// Apply proposes an encoded command and waits for it to be committed and
// applied. Only the leader may apply; others get ErrNotLeader. When the
// leader loses leadership while waiting, the entry's fate is unknown: the
// error says so, and a retry with the same request id is safe.
func (s *Store) Apply(ctx context.Context, cmd []byte) (*fsm.Result, error) {
	if s.raft.State() != raft.Leader {
		return nil, ErrNotLeader
	}
	if g := s.cfg.WriteGuard; g != nil {
		if err := g(cmd); err != nil {
			return nil, err
		}
	}
	timeout := s.cfg.ApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	fut := s.raft.Apply(cmd, timeout)
	if err := fut.Error(); err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader):
			return nil, ErrNotLeader
		case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress),
			errors.Is(err, raft.ErrEnqueueTimeout), errors.Is(err, raft.ErrRaftShutdown):
			// The entry may or may not commit: the caller retries with
			// the same request id, which the FSM deduplicates.
			return nil, fmt.Errorf("%w: %v", ErrOutcomeUnknown, err)
		}
		return nil, fmt.Errorf("raft apply: %w", err)
	}
	res, ok := fut.Response().(*fsm.Result)
	if !ok {
		return nil, fmt.Errorf("raft apply: unexpected response %T", fut.Response())
	}
	return res, nil
}

// ReadIndex makes a following read linearizable: it confirms this node is
// the leader with a quorum and waits until the state machine has applied
// everything committed when the read began. It returns ErrNotLeader on a
// node that is not (or no longer) the leader.
func (s *Store) ReadIndex(ctx context.Context) error {
	if s.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	term := s.raft.CurrentTerm()
	if s.readyTerm.Load() != term {
		// A new leader's commit index may trail what its predecessor
		// committed until an entry of its own term commits.
		if err := s.raft.Barrier(s.cfg.ApplyTimeout).Error(); err != nil {
			if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
				return ErrNotLeader
			}
			return fmt.Errorf("leader barrier: %w", err)
		}
		s.readyTerm.Store(term)
	}
	ci := s.raft.CommitIndex()
	if err := s.raft.VerifyLeader().Error(); err != nil {
		return ErrNotLeader
	}
	return s.waitApplied(ctx, ci)
}

// waitApplied waits until every command entry at or below idx is applied.
// Entries raft never hands the FSM (no-ops, configuration, barriers) count
// as applied: they are looked up in the log.
func (s *Store) waitApplied(ctx context.Context, idx uint64) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		ch := s.fsm.Changed()
		applied := s.fsm.Applied()
		if applied >= idx || s.onlyNonCommands(applied+1, idx) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for applied index %d (at %d): %w", idx, applied, ctx.Err())
		case <-ch:
		case <-tick.C:
		}
	}
}

func (s *Store) onlyNonCommands(from, to uint64) bool {
	if to-from > 64 {
		return false
	}
	var l raft.Log
	for i := from; i <= to; i++ {
		if err := s.wal.GetLog(i, &l); err != nil {
			return false
		}
		if l.Type == raft.LogCommand {
			return false
		}
	}
	// Every command entry before `from` is applied; but raft may still be
	// handing earlier entries to the FSM: make sure raft has dispatched
	// through `to`.
	return s.raft.AppliedIndex() >= to
}

// Server is one member of the raft configuration.
type Server struct {
	ID       string
	Address  string
	Suffrage string
}

// Servers returns the current raft configuration.
func (s *Store) Servers() ([]Server, error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("raft configuration: %w", err)
	}
	var out []Server
	for _, sv := range f.Configuration().Servers {
		out = append(out, Server{ID: string(sv.ID), Address: string(sv.Address), Suffrage: sv.Suffrage.String()})
	}
	return out, nil
}

// InConfiguration reports whether this node is in its latest raft
// configuration (known false while the configuration is empty: a joining
// node the leader has not reached yet). A node catching up after a join
// goes through the log's earlier configurations, which do not list it yet:
// only a node that was in its configuration before and is not now was
// removed (controlplane's membership watch).
func (s *Store) InConfiguration() (in, known bool, err error) {
	servers, err := s.Servers()
	if err != nil || len(servers) == 0 {
		return false, false, err
	}
	for _, sv := range servers {
		if sv.ID == s.cfg.ID {
			return true, true, nil
		}
	}
	return false, true, nil
}

// AddVoter adds (or re-adds at a new address) a voter. Leader only.
func (s *Store) AddVoter(id, addr string) error {
	if s.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	servers, err := s.Servers()
	if err != nil {
		return err
	}
	for _, sv := range servers {
		if sv.ID == id && sv.Address == addr {
			return nil // already a member
		}
		if sv.ID == id || sv.Address == addr {
			if err := s.raft.RemoveServer(raft.ServerID(sv.ID), 0, s.cfg.ApplyTimeout).Error(); err != nil {
				return fmt.Errorf("remove stale member %s: %w", sv.ID, err)
			}
		}
	}
	if err := s.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, s.cfg.ApplyTimeout).Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return ErrNotLeader
		}
		return fmt.Errorf("add voter %s: %w", id, err)
	}
	return nil
}

// RemoveServer takes a server out of the configuration. Leader only.
func (s *Store) RemoveServer(id string) error {
	if s.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	if err := s.raft.RemoveServer(raft.ServerID(id), 0, s.cfg.ApplyTimeout).Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return ErrNotLeader
		}
		return fmt.Errorf("remove server %s: %w", id, err)
	}
	return nil
}

// Restore replaces the cluster's state with a snapshot stream of size
// bytes (as written by fsm.WriteSnapshot). Leader only.
func (s *Store) Restore(r io.Reader, size int64) error {
	if s.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Size: size}
	if err := s.raft.Restore(meta, r, 5*time.Minute); err != nil {
		return fmt.Errorf("raft restore: %w", err)
	}
	return nil
}

// FirstIndex is the oldest entry still in this node's raft log.
func (s *Store) FirstIndex() (uint64, error) { return s.wal.FirstIndex() }

// Stats returns raft's own statistics (last_snapshot_index, num_peers, …).
func (s *Store) Stats() map[string]string { return s.raft.Stats() }

// Snapshot asks raft to take a snapshot now (and compact the log).
func (s *Store) Snapshot() error {
	return s.raft.Snapshot().Error()
}

// WaitLeader waits until some node is leader (from this node's view).
func (s *Store) WaitLeader(ctx context.Context) (string, error) {
	for {
		if id, _ := s.Leader(); id != "" {
			return id, nil
		}
		select {
		case <-ctx.Done():
			return "", ErrNoLeader
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close shuts the node down. With transfer set, a leader first hands
// leadership to another voter so the cluster does not wait out an election
// timeout.
func (s *Store) Close(transfer bool) error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	if transfer && s.raft != nil && s.raft.State() == raft.Leader {
		if servers, err := s.Servers(); err == nil && len(servers) > 1 {
			if err := s.raft.LeadershipTransfer().Error(); err != nil {
				s.log.Warn("leadership transfer", "error", err)
			} else {
				s.log.Info("leadership transferred")
			}
		}
	}
	var errs []error
	if s.raft != nil {
		errs = append(errs, s.raft.Shutdown().Error())
	}
	errs = append(errs, s.closeStores())
	return errors.Join(errs...)
}

func (s *Store) closeStores() error {
	var errs []error
	if s.trans != nil {
		errs = append(errs, s.trans.Close())
	}
	if s.wal != nil {
		errs = append(errs, s.wal.Close())
	}
	if s.meta != nil {
		errs = append(errs, s.meta.Close())
	}
	if s.fsm != nil {
		errs = append(errs, s.fsm.Close())
	}
	return errors.Join(errs...)
}

// tcpLayer is raft's stream layer over a listener we opened ourselves (so
// host:0 works and the bound address is known before raft starts).
type tcpLayer struct {
	ln  net.Listener
	adv net.Addr
}

func (t *tcpLayer) Accept() (net.Conn, error) { return t.ln.Accept() }
func (t *tcpLayer) Close() error              { return t.ln.Close() }
func (t *tcpLayer) Addr() net.Addr            { return t.adv }
func (t *tcpLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(addr), timeout)
}
