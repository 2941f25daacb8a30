package controlplane

import (
	"slices"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/diskspace"
)

// DefaultMinFreeDisk is the free space a node keeps under its data
// directory unless told otherwise (--min-free-disk-mb). It leaves room for
// what lands after the first refusal: the open memtable's flush (64 MiB),
// the compaction it may start, the next raft-wal segment (64 MiB) and a
// snapshot's first pages.
const DefaultMinFreeDisk = 256 << 20

// exemptWhileLow are the commands a cluster still takes while a disk is
// low: they stop harm (a customer's erasure, a leaked token or agent
// certificate, a dead node), and write little.
var exemptWhileLow = []fsm.CommandType{fsm.CmdCustomerErase, fsm.CmdTokenRevoke, fsm.CmdAgentRevoke, fsm.CmdNodeRemove}

// writeGuard refuses a proposal while this node's disk, or that of a live
// node that gossips it is low, has less free space than it keeps. Every
// node applies every entry, and badger dies of SIGBUS, not an error, when
// its file system fills.
func (s *Server) writeGuard(cmd []byte) error {
	if t, ok := fsm.TypeOf(cmd); ok && slices.Contains(exemptWhileLow, t) {
		return nil
	}
	if err := s.disk.Check(); err != nil {
		return api.Errorf(api.CodeInsufficientStorage, "node %s: %v (--min-free-disk-mb): the cluster refuses writes until space is freed; what is stored stays readable", s.cfg.ID, err)
	}
	if id, _ := s.lowPeerID.Load().(string); id != "" {
		return api.Errorf(api.CodeInsufficientStorage, "node %s has less free disk space than it keeps (touchpoint cluster status shows it): the cluster refuses writes until space is freed there; what is stored stays readable", id)
	}
	return nil
}

// lowPeer is the first live server, other than this one, whose gossip says
// its disk is low ("" if none, or without gossip). A dead node's last word
// does not stop the cluster.
func (s *Server) lowPeer() string {
	f := s.fleet.Load()
	if f == nil {
		return ""
	}
	var low []string
	for id, st := range f.Servers() {
		if id != s.cfg.ID && st.Status == api.AgentAlive && st.Meta.DiskLow {
			low = append(low, id)
		}
	}
	if len(low) == 0 {
		return ""
	}
	return slices.Min(low)
}

// watchDisk runs from maintain, once a second: it logs when this node's
// disk goes below the floor or recovers, and gossips the change so that
// the leader refuses writes for it; and it notes which peer gossips a low
// disk, for writeGuard (so a write does not walk the gossip view).
func (s *Server) watchDisk() {
	s.lowPeerID.Store(s.lowPeer())
	err := s.disk.Check()
	low := err != nil
	if s.diskLow.Swap(low) == low {
		return
	}
	if low {
		s.log.Error("disk space low: the cluster refuses writes until space is freed", "error", err)
	} else {
		free, _ := s.disk.Free()
		s.log.Info("disk space recovered: writes are taken again", "free", diskspace.Bytes(free), "floor", diskspace.Bytes(s.disk.Floor()))
	}
	if f := s.fleet.Load(); f != nil {
		if err := f.UpdateMeta(); err != nil {
			s.log.Warn("gossip the disk state", "error", err)
		}
	}
}
