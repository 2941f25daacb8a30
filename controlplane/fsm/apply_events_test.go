package fsm_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

func contact(agent string, seq uint64, customer string) protocol.ContactEvent {
	return protocol.ContactEvent{AgentID: agent, Seq: seq, Time: baseTime.Add(time.Duration(seq) * time.Minute),
		CustomerID: customer, Channel: "kiosk", Type: protocol.ContactOffer, Outcome: protocol.OutcomePresented, OfferID: "retain-10"}
}

func ingest(agent string, seqs ...uint64) command {
	p := fsm.EventsIngest{AgentID: agent}
	for _, s := range seqs {
		p.Events = append(p.Events, contact(agent, s, "C1"))
	}
	return command{typ: fsm.CmdEventsIngest, payload: p}
}

func ingestResult(t *testing.T, r *fsm.Result) fsm.IngestResult {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("ingest: %v", r.Err)
	}
	var ir fsm.IngestResult
	if err := json.Unmarshal(r.Data, &ir); err != nil {
		t.Fatal(err)
	}
	return ir
}

func TestEvents_DuplicatesDroppedByHighWaterMark(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	if ir := ingestResult(t, apply(t, f, 1, ingest("kiosk-1", 1, 2, 3))); ir.HighestSeq != 3 || ir.Stored != 3 {
		t.Fatalf("first batch %+v", ir)
	}
	// The agent lost the acknowledgement and resends 2..3 with 4..5.
	if ir := ingestResult(t, apply(t, f, 2, ingest("kiosk-1", 2, 3, 4, 5))); ir.HighestSeq != 5 || ir.Stored != 2 || ir.Duplicates != 2 {
		t.Fatalf("resent batch %+v", ir)
	}
	// A batch entirely below the mark stores nothing.
	if ir := ingestResult(t, apply(t, f, 3, ingest("kiosk-1", 1, 2))); ir.HighestSeq != 5 || ir.Stored != 0 {
		t.Fatalf("old batch %+v", ir)
	}
	total, agents, err := f.ContactStats()
	if err != nil || total != 5 || len(agents) != 1 || agents[0].Received != 5 || agents[0].HighestSequence != 5 {
		t.Fatalf("stats total %d agents %+v err %v", total, agents, err)
	}
	evs, err := f.ContactsByCustomer("C1", time.Time{}, 0)
	if err != nil || len(evs) != 5 {
		t.Fatalf("contacts of C1: %d %v", len(evs), err)
	}
	for i, e := range evs {
		if e.Seq != uint64(i+1) {
			t.Fatalf("contacts out of order: %+v", evs)
		}
	}
}

func TestEvents_GapIsRefusedAndNothingStored(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	ingestResult(t, apply(t, f, 1, ingest("ivr-1", 1, 2)))
	idx := uint64(1)
	for name, c := range map[string]command{
		"gap above the mark":  ingest("ivr-1", 4, 5),
		"gap inside a batch":  ingest("ivr-1", 3, 5),
		"out of order":        ingest("ivr-1", 3, 3),
		"duplicate after new": ingest("ivr-1", 3, 1),
	} {
		idx++
		r := apply(t, f, idx, c)
		if r.Err == nil || r.Err.Code != fsm.CodeSequenceGap {
			t.Errorf("%s: %+v, want sequence_gap", name, r.Err)
		}
	}
	if m, _ := f.AgentMark("ivr-1"); m != 2 {
		t.Fatalf("mark moved to %d after refused batches", m)
	}
	evs, _ := f.ContactsByCustomer("C1", time.Time{}, 0)
	if len(evs) != 2 {
		t.Fatalf("refused batches stored events: %d", len(evs))
	}
}

// After a snapshot restore the ledger lacks what was acknowledged after the
// snapshot, which the agents dropped: the first batch of each agent may
// skip ahead once, counted and audited; the next gap is refused again. A
// restore written before ReopenSequences existed reopens nothing.
func TestEvents_RestoreLetsEachAgentSkipAheadOnce(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	applyOK(t, f, 1, initCluster("tp-r"))
	ingestResult(t, apply(t, f, 2, ingest("ivr-1", 1, 2)))
	ingestResult(t, apply(t, f, 3, ingest("kiosk-1", 1)))
	applyOK(t, f, 4, command{typ: fsm.CmdRestored, payload: fsm.Restored{Epoch: 2}})
	if r := apply(t, f, 5, ingest("ivr-1", 5)); r.Err == nil || r.Err.Code != fsm.CodeSequenceGap {
		t.Fatalf("a gap after a restore without ReopenSequences: %+v", r.Err)
	}
	applyOK(t, f, 6, command{typ: fsm.CmdRestored, payload: fsm.Restored{Epoch: 3, ReopenSequences: true}})
	if ir := ingestResult(t, apply(t, f, 7, ingest("ivr-1", 5, 6))); ir.HighestSeq != 6 || ir.Stored != 2 {
		t.Fatalf("the first batch after the restore: %+v", ir)
	}
	if r := apply(t, f, 8, ingest("ivr-1", 9)); r.Err == nil || r.Err.Code != fsm.CodeSequenceGap {
		t.Fatalf("a second gap: %+v", r.Err)
	}
	// Another agent gets its own one skip; one without a gap needs none.
	if ir := ingestResult(t, apply(t, f, 9, ingest("kiosk-1", 2))); ir.HighestSeq != 2 {
		t.Fatalf("kiosk-1 without a gap: %+v", ir)
	}
	if r := apply(t, f, 10, ingest("kiosk-1", 4)); r.Err == nil || r.Err.Code != fsm.CodeSequenceGap {
		t.Fatalf("kiosk-1 spent its skip on a batch without a gap: %+v", r.Err)
	}
	audit, err := f.Audit(10)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range audit {
		found = found || (a.Action == "ledger.restore-gap" && a.Target == "ivr-1" && strings.Contains(a.Details, "3-4"))
	}
	if !found {
		t.Fatalf("no audit entry of the skipped sequences: %+v", audit)
	}
}

func TestEvents_InvalidBatchesRefused(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	bad := ingest("kiosk-1", 1)
	p := bad.payload.(fsm.EventsIngest)
	p.Events[0].AgentID = "someone-else"
	// The binary payload cannot even carry an event of another agent.
	if _, err := fsm.Encode(fsm.CmdEventsIngest, 0, fsm.Envelope{}, p); err == nil {
		t.Error("encoded a batch holding another agent's event")
	}
	// Nor can the JSON of earlier versions get one in.
	legacy, _ := json.Marshal(p)
	if r := apply(t, f, 1, command{typ: fsm.CmdEventsIngest, payload: json.RawMessage(legacy)}); r.Err == nil || r.Err.Code != api.CodeInvalidField {
		t.Errorf("legacy JSON batch with another agent's event: %+v", r.Err)
	}
	var idx uint64 = 1
	for name, c := range map[string]command{
		"agent id with a slash": {typ: fsm.CmdEventsIngest, payload: fsm.EventsIngest{AgentID: "a/b"}},
		"unknown outcome": {typ: fsm.CmdEventsIngest, payload: fsm.EventsIngest{AgentID: "k", Events: []protocol.ContactEvent{
			{AgentID: "k", Seq: 1, CustomerID: "C1", Channel: "kiosk", Type: "offer", Outcome: "maybe"}}}},
	} {
		idx++
		if r := apply(t, f, idx, c); r.Err == nil || r.Err.Code != api.CodeInvalidField {
			t.Errorf("%s: %+v", name, r.Err)
		}
	}
}

// Contacts by customer are kept apart however ids are spelled, and
// filtered by time.
func TestEvents_ContactsByCustomerSinceAndIsolation(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	p := fsm.EventsIngest{AgentID: "k1", Events: []protocol.ContactEvent{
		contact("k1", 1, "C1"), contact("k1", 2, "C1/2"), contact("k1", 3, "C1"), contact("k1", 4, "C10"),
	}}
	ingestResult(t, apply(t, f, 1, command{typ: fsm.CmdEventsIngest, payload: p}))
	all, _ := f.ContactsByCustomer("C1", time.Time{}, 0)
	if len(all) != 2 || all[0].Seq != 1 || all[1].Seq != 3 {
		t.Fatalf("C1 contacts %+v", all)
	}
	since, _ := f.ContactsByCustomer("C1", baseTime.Add(2*time.Minute), 0)
	if len(since) != 1 || since[0].Seq != 3 {
		t.Fatalf("C1 since +2m: %+v", since)
	}
}

// The head of the change feed survives a restart even when pruning has
// deleted every change record: an agent holding an older index must still
// learn that it is behind (and get a snapshot).
func TestFSM_LastChangeSurvivesPruneAndRestart(t *testing.T) {
	dir := t.TempDir()
	f, err := fsm.Open(fsm.Config{Dir: dir, ChangeRetention: 10})
	if err != nil {
		t.Fatal(err)
	}
	applyOK(t, f, 1, initCluster("c1"))
	applyOK(t, f, 2, catalogApply("r1", offer("o1", 10)))
	// Past a prune boundary with entries that change no configuration.
	for idx := uint64(3); idx <= 2100; idx++ {
		apply(t, f, idx, ingest("kiosk-1", idx-2))
	}
	if got := f.LastChange(); got != 2 {
		t.Fatalf("last change %d before restart, want 2", got)
	}
	if feed, _ := f.Changes(1, 0); !feed.Snapshot {
		t.Fatal("the feed still holds the change: the test did not prune")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f2 := openFSM(t, fsm.Config{Dir: dir, ChangeRetention: 10})
	if got := f2.LastChange(); got != 2 {
		t.Fatalf("last change %d after restart, want 2", got)
	}
}
