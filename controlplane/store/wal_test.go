package store

import (
	"fmt"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// TestLog_ReopensAfterTailTruncation: a deposed leader drops the entries
// it never replicated ("clearing log suffix", a tail DeleteRange), takes
// the new leader's entries in their place, and restarts. With raft-wal
// v0.4.0 every start after that failed: the truncated segment was sealed
// without its index block (hashicorp/raft-wal#31), and raft panicked with
// "sealed segment has no index block". A helper's kill -9 run met it.
func TestLog_ReopensAfterTailTruncation(t *testing.T) {
	dir := t.TempDir()
	open := func() (*logPair, func()) {
		t.Helper()
		w, m, err := openLog(dir, hclog.NewNullLogger())
		if err != nil {
			t.Fatal(err)
		}
		return &logPair{t: t, w: w}, func() {
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	l, closeLog := open()
	l.store(1, 10, 1)
	// The new leader's log ends at 7: 8..10 go, 8..12 of term 2 come.
	if err := l.w.DeleteRange(8, 10); err != nil {
		t.Fatal(err)
	}
	l.store(8, 12, 2)
	closeLog()

	for round := range 2 { // a second restart, as in the report
		l, closeLog = open()
		l.check(1, 12)
		if round == 0 {
			if err := l.w.DeleteRange(12, 12); err != nil { // once more, then restart
				t.Fatal(err)
			}
			l.store(12, 12, 3)
		}
		closeLog()
	}
}

type logPair struct {
	t *testing.T
	w raft.LogStore
}

func (l *logPair) store(from, to, term uint64) {
	l.t.Helper()
	var logs []*raft.Log
	for i := from; i <= to; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: term, Type: raft.LogCommand, Data: []byte(fmt.Sprintf("entry %d term %d", i, term))})
	}
	if err := l.w.StoreLogs(logs); err != nil {
		l.t.Fatal(err)
	}
}

func (l *logPair) check(from, to uint64) {
	l.t.Helper()
	if last, err := l.w.LastIndex(); err != nil || last != to {
		l.t.Fatalf("last index %d (%v), want %d", last, err, to)
	}
	for i := from; i <= to; i++ {
		var got raft.Log
		if err := l.w.GetLog(i, &got); err != nil {
			l.t.Fatalf("entry %d after reopening: %v", i, err)
		}
		if got.Index != i {
			l.t.Fatalf("entry %d reads as %d", i, got.Index)
		}
	}
}
