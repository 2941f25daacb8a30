package agent

import (
	"context"
	"time"

	"touchpoint.dev/touchpoint/protocol/diskspace"
)

// DefaultMinFreeDisk is the free space an agent keeps under its data
// directory unless told otherwise (--min-free-disk-mb): room for the
// flushes of the cache's and the outbox's open memtables (16 MiB each) and
// a compaction after them.
const DefaultMinFreeDisk = 64 << 20

// diskWatchEvery is how often watchDisk looks.
const diskWatchEvery = time.Second

// watchDisk logs when the data directory's free space falls below the
// floor and when it recovers, so that an operator reading the log learns
// why contacts are refused (the refusals themselves are counted, not
// logged one by one). Gossip and /readyz read the guard themselves.
func (a *Agent) watchDisk(ctx context.Context) {
	if a.disk.Floor() == 0 {
		return
	}
	t := time.NewTicker(diskWatchEvery)
	defer t.Stop()
	low := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := a.disk.Check()
		switch {
		case err != nil && !low:
			a.log.Error("disk space low: contacts are refused and the cache takes no changes until space is freed; decisions go on from the cache", "error", err)
		case err == nil && low:
			free, _ := a.disk.Free()
			a.log.Info("disk space recovered: contacts are taken again", "free", diskspace.Bytes(free), "floor", diskspace.Bytes(a.disk.Floor()))
		}
		low = err != nil
	}
}
