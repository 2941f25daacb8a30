package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"touchpoint.dev/touchpoint/protocol/api"
)

// ErrRemoved is Run's and New's error for a node the cluster removed
// (cluster remove): it takes no part in the cluster any more, so it serves
// neither its admin API nor agents.
var ErrRemoved = errors.New("removed from the cluster")

// A node learns that it was removed in one of two ways:
//
//   - Its own Raft configuration leaves it out after it had listed it:
//     the entry removing it reached it, because it was running when it was
//     removed (or it restarts after that). A node catching up after its
//     join replays the log's earlier configurations, which do not list it
//     yet, so only a configuration that listed it before counts: the
//     first time this node sees itself in its configuration it writes
//     memberFile into its data directory, and from then on a
//     configuration without it means it was removed (checkMember).
//   - The leader says so: it was down when it was removed, so its log
//     still names it a member, and no member answers its vote requests.
//     While it knows no leader it asks the nodes its state knows, and
//     believes only a leader's answer (askPeers).
const (
	// leaderlessBeforeAsking is how long a node goes without knowing a
	// leader before it asks its peers whether it is still a member: a
	// restarted member hears from the leader within a heartbeat or two.
	leaderlessBeforeAsking = 3 * time.Second
	// askEvery spaces the questions while the node stays leaderless.
	askEvery = 5 * time.Second
	// memberFile, in the data directory, says this node has seen itself
	// in its Raft configuration.
	memberFile = "raft-member"
)

// checkMember returns ErrRemoved, wrapped with what to do, when this node's
// Raft configuration leaves it out after having listed it; it records the
// first time it lists it (memberFile).
func (s *Server) checkMember() error {
	inConfig := s.inConfig
	if inConfig == nil {
		inConfig = s.store.InConfiguration
	}
	in, known, err := inConfig()
	if err != nil || !known {
		return err
	}
	path := filepath.Join(s.cfg.DataDir, memberFile)
	if in {
		if s.member.Load() {
			return nil
		}
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			if err := writeFileSync(path, []byte("this node has been in its raft configuration\n")); err != nil {
				return err
			}
		}
		s.member.Store(true)
		return nil
	}
	if !s.member.Load() {
		if _, err := os.Stat(path); err != nil {
			return nil // not listed yet: catching up after a join (or a data directory from before memberFile)
		}
	}
	return s.removedError("its Raft configuration no longer lists it")
}

func (s *Server) removedError(how string) error {
	return fmt.Errorf("node %s was %w (cluster remove): %s. Its data directory %s belongs to its old membership: to bring the node back, empty the directory and start it with --join URL (any member's admin URL)", s.cfg.ID, ErrRemoved, how, s.cfg.DataDir)
}

// askPeers asks every other node this one's state knows whether it is still
// a member, and returns ErrRemoved (wrapped) when the leader of its own
// cluster says it is not. Any other answer (none, another cluster, a node
// that is not the leader) proves nothing and is passed over.
func (s *Server) askPeers(ctx context.Context) error {
	ci, err := s.store.FSM().Cluster()
	if err != nil || ci.ClusterID == "" {
		return nil
	}
	nodes, err := s.store.FSM().Nodes()
	if err != nil {
		return nil
	}
	for id, n := range nodes {
		if id == s.cfg.ID || n.HTTPAddr == "" {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, peerTimeout)
		m, err := api.NewClient(s.scheme+"://"+n.HTTPAddr, "", s.peers).Membership(actx, s.cfg.ID)
		cancel()
		if err != nil || m.ClusterID != ci.ClusterID || m.Node != id || m.Leader != id {
			continue
		}
		if !m.Member {
			return s.removedError(fmt.Sprintf("the leader, %s at %s, does not list it", id, n.HTTPAddr))
		}
		return nil
	}
	return nil
}

// peerTimeout bounds one question to a peer.
const peerTimeout = 2 * time.Second

// membershipWatch is maintain's view of whether this node is still a
// member; check is called about once a second.
type membershipWatch struct {
	leaderless time.Time // since when no leader is known; zero while one is
	asked      time.Time
}

// check returns ErrRemoved (wrapped) once this node learns it was removed.
func (w *membershipWatch) check(ctx context.Context, s *Server) error {
	if err := s.checkMember(); errors.Is(err, ErrRemoved) {
		return err
	}
	if id, _ := s.store.Leader(); id != "" {
		w.leaderless = time.Time{}
		return nil
	}
	now := time.Now()
	if w.leaderless.IsZero() {
		w.leaderless = now
	}
	if now.Sub(w.leaderless) < leaderlessBeforeAsking || now.Sub(w.asked) < askEvery {
		return nil
	}
	w.asked = now
	return s.askPeers(ctx)
}
