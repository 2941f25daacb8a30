package fsm

import (
	"encoding/json"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// Contact events. An agent numbers its events 1, 2, 3… without gaps; the
// FSM keeps, per agent, the highest sequence it committed (the high-water
// mark) and how many events it received. A batch is applied as:
//
//   - events at or below the mark are duplicates (a resend after a lost
//     acknowledgement) and are dropped;
//   - the first new event must be exactly mark+1, and the batch must be
//     gap-free from there: a gap means the agent lost events or two
//     sessions of one agent interleave, and silently accepting it would
//     make the loss permanent — the batch is refused with sequence_gap;
//   - the new events are stored and the mark moves to the last of them,
//     in the same transaction;
//   - after a snapshot restore the ledger lacks what the cluster
//     acknowledged after the snapshot, which the agents dropped from their
//     outboxes: the first batch an agent sends after the restore may skip
//     ahead once, and the mark counts the sequences lost (LostOnRestore).
//
// Keys:
//
//	h/<agent>                         agentMark JSON
//	k/<len 2><customer><unix nanos 8><agent>/<seq 8>   the stored event
//	                                  (binary, see command_events.go):
//	                                  contacts by customer, the only way the
//	                                  ledger is read; the length prefix keeps
//	                                  one customer's keys apart from
//	                                  another's whatever characters ids hold
//	v/<agent>/<seq 8>                 the event, written by earlier versions
//	                                  (their k/ values are empty)

var (
	prefixMark     = []byte("h/")
	prefixEvent    = []byte("v/")
	prefixCustomer = []byte("k/")
)

// CodeSequenceGap is the FSM's answer to a batch that skips sequences.
const CodeSequenceGap = api.CodeSequenceGap

// maxEventsPerBatch bounds one ingest entry.
const maxEventsPerBatch = 10_000

// EventsIngest commits a batch of one agent's contact events.
type EventsIngest struct {
	AgentID string                  `json:"agentId"`
	Events  []protocol.ContactEvent `json:"events"`
}

// IngestResult is what an ingest entry answers: the agent's mark after it.
type IngestResult struct {
	HighestSeq uint64 `json:"highestSeq"`
	Stored     int    `json:"stored"`
	Duplicates int    `json:"duplicates"`
}

type agentMark struct {
	HighestSeq uint64    `json:"highestSeq"`
	Received   uint64    `json:"received"`
	LastEvent  time.Time `json:"lastEvent"`
	// Index is the entry that last moved the mark; a restore after it
	// (keyLedgerReopen) lets the next batch skip ahead.
	Index uint64 `json:"index,omitempty"`
	// LostOnRestore counts the sequences skipped after restores.
	LostOnRestore uint64 `json:"lostOnRestore,omitempty"`
}

// AgentContacts is one agent's line in contact statistics.
type AgentContacts struct {
	AgentID         string    `json:"agentId"`
	Received        uint64    `json:"received"`
	HighestSequence uint64    `json:"highestSequence"`
	LastEvent       time.Time `json:"lastEvent"`
}

func markKey(agent string) []byte { return strKey(prefixMark, agent) }

func eventKey(agent string, seq uint64) []byte {
	k := strKey(prefixEvent, agent+"/")
	return append(k, u64(seq)...)
}

func customerPrefix(customer string) []byte {
	k := append([]byte{}, prefixCustomer...)
	k = append(k, byte(len(customer)>>8), byte(len(customer)))
	return append(k, customer...)
}

func customerKey(e protocol.ContactEvent) []byte {
	k := customerPrefix(e.CustomerID)
	k = append(k, u64(uint64(e.Time.UnixNano()))...)
	k = append(k, e.AgentID+"/"...)
	return append(k, u64(e.Seq)...)
}

func applyEventsIngest(e *entry) (any, *api.Error) {
	var p EventsIngest
	if err := p.UnmarshalBinary(e.cmd.Payload); err != nil {
		return nil, api.Errorf(api.CodeBadRequest, "%s payload: %v", e.cmd.Type, err)
	}
	if !protocol.ValidAgentID(p.AgentID) {
		return nil, api.Errorf(api.CodeInvalidField, "agent id %q: 1 to 128 letters, digits, '-', '_' or '.'", p.AgentID)
	}
	if len(p.Events) > maxEventsPerBatch {
		return nil, api.Errorf(api.CodeBadRequest, "%d events in one batch; the limit is %d", len(p.Events), maxEventsPerBatch)
	}
	var mark agentMark
	if b, ok := e.w.get(markKey(p.AgentID)); ok {
		if err := json.Unmarshal(b, &mark); err != nil {
			panic(fmt.Sprintf("fsm: agent mark %s: %v", p.AgentID, err))
		}
	}
	// Check the whole batch before writing anything.
	next := mark.HighestSeq + 1
	dups := 0
	var lost uint64
	reopened := false
	if b, ok := e.w.get(keyLedgerReopen); ok && u64From(b) > mark.Index {
		reopened = true
	}
	for i, ev := range p.Events {
		if ev.AgentID != p.AgentID {
			return nil, api.Errorf(api.CodeInvalidField, "event %d belongs to agent %q, not %q", i, ev.AgentID, p.AgentID)
		}
		if err := ev.Validate(); err != nil {
			return nil, api.Errorf(api.CodeInvalidField, "event %d: %v", i, err)
		}
		if len(ev.CustomerID) > 0xffff {
			return nil, api.Errorf(api.CodeInvalidField, "event %d: customer id too long", i)
		}
		switch {
		case ev.Seq < next && dups == i:
			dups++ // a resent prefix the cluster already holds
		case ev.Seq == next:
			next++
		case reopened && i == dups && ev.Seq > next:
			// The first new event after a restore: the sequences before
			// it were acknowledged and are gone with the restore.
			lost, next = ev.Seq-next, ev.Seq+1
		default:
			return nil, api.Errorf(CodeSequenceGap, "agent %s: event %d has sequence %d, expected %d (the cluster holds through %d)",
				p.AgentID, i, ev.Seq, next, mark.HighestSeq)
		}
	}
	for i := range p.Events[dups:] {
		ev := &p.Events[dups+i]
		// One write per event: the customer index holds the event.
		e.w.set(customerKey(*ev), encodeStoredEvent(ev))
		mark.HighestSeq = ev.Seq
		mark.Received++
		if ev.Time.After(mark.LastEvent) {
			mark.LastEvent = ev.Time
		}
	}
	if stored := len(p.Events) - dups; stored > 0 {
		mark.Index = e.index
		if lost > 0 {
			mark.LostOnRestore += lost
			e.addAudit("ledger.restore-gap", p.AgentID, fmt.Sprintf("sequences %d-%d were acknowledged after the restored snapshot and are not in the ledger",
				p.Events[dups].Seq-lost, p.Events[dups].Seq-1))
		}
		if api.IsImportLedgerID(p.AgentID) {
			e.addAudit("ledger.import", p.AgentID, fmt.Sprintf("rows %d-%d stored", p.Events[dups].Seq, mark.HighestSeq))
		}
		b, _ := json.Marshal(mark)
		e.w.set(markKey(p.AgentID), b)
		countPresented(e, p.Events[dups:])
		e.w.contacts = append(e.w.contacts, p.Events[dups:])
	}
	return IngestResult{HighestSeq: mark.HighestSeq, Stored: len(p.Events) - dups, Duplicates: dups}, nil
}

// ContactStats returns every agent's received count and high-water mark,
// and the total.
func (f *FSM) ContactStats() (total uint64, agents []AgentContacts, err error) {
	agents = []AgentContacts{}
	err = f.view(func(tx *badger.Txn) error {
		return scan(tx, prefixMark, func(k, v []byte) (bool, error) {
			var m agentMark
			if err := json.Unmarshal(v, &m); err != nil {
				return false, err
			}
			agents = append(agents, AgentContacts{AgentID: string(k[len(prefixMark):]), Received: m.Received, HighestSequence: m.HighestSeq, LastEvent: m.LastEvent})
			total += m.Received
			return true, nil
		})
	})
	return total, agents, err
}

// AgentMark is the highest sequence of agent the cluster committed.
func (f *FSM) AgentMark(agent string) (uint64, error) {
	var m agentMark
	err := f.view(func(tx *badger.Txn) error {
		_, err := getJSON(tx, markKey(agent), &m)
		return err
	})
	return m.HighestSeq, err
}

// customerEntry decodes one entry of the customer index (key after the
// customer's prefix: time 8, agent, '/', seq 8); ok is false for a key too
// short to be one.
func customerEntry(tx *badger.Txn, item *badger.Item, prefixLen int) (ev protocol.ContactEvent, ok bool, err error) {
	k := item.Key()[prefixLen:]
	if len(k) < 8+1+8 {
		return ev, false, nil
	}
	rest := k[8:]
	agent := string(rest[:len(rest)-9])
	seq := u64From(rest[len(rest)-8:])
	if item.ValueSize() == 0 {
		// Written by an earlier version: the event is under v/.
		if item, err = tx.Get(eventKey(agent, seq)); err != nil {
			return ev, false, fmt.Errorf("contact %s/%d: %w", agent, seq, err)
		}
	}
	err = item.Value(func(v []byte) error {
		var derr error
		ev, derr = decodeStoredEvent(agent, v)
		return derr
	})
	if err != nil {
		return ev, false, fmt.Errorf("contact %s/%d: %w", agent, seq, err)
	}
	return ev, true, nil
}

// ContactsByCustomer returns a customer's contacts at or after since, oldest
// first, at most limit (0: no limit).
func (f *FSM) ContactsByCustomer(customer string, since time.Time, limit int) ([]protocol.ContactEvent, error) {
	out := []protocol.ContactEvent{}
	prefix := customerPrefix(customer)
	err := f.view(func(tx *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		it := tx.NewIterator(opts)
		defer it.Close()
		start := prefix
		if !since.IsZero() {
			start = append(append([]byte{}, prefix...), u64(uint64(since.UnixNano()))...)
		}
		for it.Seek(start); it.Valid(); it.Next() {
			ev, ok, err := customerEntry(tx, it.Item(), len(prefix))
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			out = append(out, ev)
			if limit > 0 && len(out) >= limit {
				break
			}
		}
		return nil
	})
	return out, err
}
