package fsm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// Result is what Apply returns for one entry (raft hands it back through
// ApplyFuture.Response).
type Result struct {
	Index uint64     `json:"index"`
	Err   *api.Error `json:"err,omitempty"`
	// Duplicate is set when the request id was applied before; Index and
	// Data are then those of the first application.
	Duplicate bool            `json:"dup,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	// Skipped is set for an entry at or below the applied index (a replay
	// after restart).
	Skipped bool `json:"-"`
}

// encodeResult writes a Result as JSON (what json.Marshal would write) by
// hand: Data is already JSON and can be the size of a thousand-document
// answer, which json.Marshal would validate and compact once more.
func encodeResult(r *Result) []byte {
	b := make([]byte, 0, 48+len(r.Data))
	b = append(b, `{"index":`...)
	b = strconv.AppendUint(b, r.Index, 10)
	if r.Err != nil {
		e, _ := json.Marshal(r.Err)
		b = append(b, `,"err":`...)
		b = append(b, e...)
	}
	if r.Duplicate {
		b = append(b, `,"dup":true`...)
	}
	if len(r.Data) > 0 {
		b = append(b, `,"data":`...)
		b = append(b, r.Data...)
	}
	return append(b, '}')
}

// maxEntryWrites bounds the bytes a batch's transaction gathers before it is
// committed and a new one started (badger refuses transactions beyond ~15% of
// a memtable).
const maxEntryWrites = 4 << 20

// largeEntry is the encoded size from which an entry starts a transaction of
// its own: a catalogue apply writes about twice its size, which fits an empty
// transaction but not one already holding up to maxEntryWrites.
const largeEntry = 256 << 10

// Apply applies one committed entry.
func (f *FSM) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies committed entries in as few badger transactions as
// possible; each entry's writes and its index commit together.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]any, len(logs))
	w := &writer{db: f.db}
	w.begin()
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			out[i] = &Result{Index: l.Index, Skipped: true}
			continue
		}
		if l.Index <= max(f.applied.Load(), w.applied) {
			// Already in the state: a replay after restart.
			out[i] = &Result{Index: l.Index, Skipped: true}
			continue
		}
		if w.bytes > maxEntryWrites || (w.dirty && len(l.Data) > largeEntry) {
			w.commit()
			w.begin()
		}
		out[i] = f.applyOne(w, l)
		w.setApplied(l.Index)
	}
	w.commit()
	if w.lastChange > 0 {
		f.lastChange.Store(w.lastChange)
	}
	if w.fleet {
		f.fleetGen.Add(1)
	}
	if len(w.contacts) > 0 {
		f.contacts.publish(w.contacts...)
	}
	if w.applied > f.applied.Load() {
		f.applied.Store(w.applied)
		f.broadcast()
	}
	return out
}

// writer is a badger transaction that counts what it wrote.
type writer struct {
	db      *badger.DB
	tx      *badger.Txn
	bytes   int
	applied uint64
	dirty   bool
	// lastChange is the highest index that wrote to the change feed; fleet
	// is set when an entry changed the fleet (enrollments, revocations,
	// gossip keys). Both are told to watchers after commit.
	lastChange uint64
	fleet      bool
	// contacts are the events this batch stored (one slice per entry),
	// told to the contact feed after commit.
	contacts [][]protocol.ContactEvent
}

func (w *writer) begin() {
	w.tx = w.db.NewTransaction(true)
	w.bytes = 0
	w.dirty = false
}

func (w *writer) set(k, v []byte) {
	if err := w.tx.Set(k, v); err != nil {
		// A single entry larger than a transaction is refused before it
		// reaches Raft; failing here is a broken invariant.
		panic(fmt.Sprintf("fsm: set %q: %v", k, err))
	}
	w.bytes += len(k) + len(v)
	w.dirty = true
}

func (w *writer) del(k []byte) {
	if err := w.tx.Delete(k); err != nil {
		panic(fmt.Sprintf("fsm: delete %q: %v", k, err))
	}
	w.bytes += len(k)
	w.dirty = true
}

func (w *writer) setApplied(idx uint64) {
	w.applied = idx
	w.set(keyApplied, u64(idx))
}

func (w *writer) commit() {
	if !w.dirty {
		w.tx.Discard()
		return
	}
	if err := w.tx.Commit(); err != nil {
		panic(fmt.Sprintf("fsm: commit through index %d: %v", w.applied, err))
	}
}

func (w *writer) get(k []byte) ([]byte, bool) {
	it, err := w.tx.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false
	}
	if err != nil {
		panic(fmt.Sprintf("fsm: get %q: %v", k, err))
	}
	v, err := it.ValueCopy(nil)
	if err != nil {
		panic(fmt.Sprintf("fsm: read %q: %v", k, err))
	}
	return v, true
}

// has reports whether k is stored (pending writes included), without
// reading its value.
func (w *writer) has(k []byte) bool {
	_, err := w.tx.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false
	}
	if err != nil {
		panic(fmt.Sprintf("fsm: get %q: %v", k, err))
	}
	return true
}

// keys returns the keys under prefix (pending writes included).
func (w *writer) keys(prefix []byte, limit int) [][]byte {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = prefix
	it := w.tx.NewIterator(opts)
	defer it.Close()
	var ks [][]byte
	for it.Rewind(); it.Valid(); it.Next() {
		ks = append(ks, it.Item().KeyCopy(nil))
		if limit > 0 && len(ks) >= limit {
			break
		}
	}
	return ks
}

// entry is the state one command's handler works with.
type entry struct {
	w     *writer
	cmd   Command
	index uint64
	audit uint32
	chg   uint32
}

func (e *entry) time() time.Time { return time.Unix(0, e.cmd.Time).UTC() }

// addAudit records an api.AuditEntry (assembled by hand, like addChange:
// a thousand-document apply writes a thousand of them).
func (e *entry) addAudit(action, target, details string) {
	b := make([]byte, 0, 160+len(target)+len(details))
	b = append(b, `{"index":`...)
	b = strconv.AppendUint(b, e.index, 10)
	b = append(b, `,"time":"`...)
	b = e.time().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","actor":`...)
	b = appendJSONString(b, e.cmd.Actor)
	b = append(b, `,"role":`...)
	b = appendJSONString(b, e.cmd.Role)
	b = append(b, `,"action":`...)
	b = appendJSONString(b, action)
	if target != "" {
		b = append(b, `,"target":`...)
		b = appendJSONString(b, target)
	}
	if details != "" {
		b = append(b, `,"details":`...)
		b = appendJSONString(b, details)
	}
	b = append(b, '}')
	e.w.set(seqKey(prefixAudit, e.index, e.audit), b)
	e.audit++
}

// addChange records an api.Change. It is assembled by hand: the document is
// already canonical JSON, and re-marshalling it would validate it again.
func (e *entry) addChange(op, kind, id string, doc json.RawMessage) {
	b := make([]byte, 0, 64+len(kind)+len(id)+len(doc))
	b = append(b, `{"index":`...)
	b = strconv.AppendUint(b, e.index, 10)
	b = append(b, `,"op":`...)
	b = appendJSONString(b, op)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, kind)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, id)
	if len(doc) > 0 {
		b = append(b, `,"doc":`...)
		b = append(b, doc...)
	}
	b = append(b, '}')
	e.putChange(b)
}

// putChange stores the entry's next change record.
func (e *entry) putChange(b []byte) {
	e.w.set(seqKey(prefixChange, e.index, e.chg), b)
	if e.chg == 0 {
		// Kept in the state, not found from the feed: pruning may delete
		// every change record while agents still hold older indexes.
		e.w.set(keyLastChange, u64(e.index))
	}
	e.chg++
	e.w.lastChange = e.index
}

// appendJSONString appends s as a JSON string, exactly as encoding/json
// would: plain ASCII is copied, anything else goes through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func (f *FSM) applyOne(w *writer, l *raft.Log) (res *Result) {
	cmd, err := Decode(l.Data)
	if err != nil {
		// A committed entry this node cannot read: continuing would let
		// the replicas diverge.
		panic(fmt.Sprintf("fsm: index %d: %v", l.Index, err))
	}
	if cmd.RequestID != "" {
		if prev, ok := w.get(strKey(prefixRequest, cmd.RequestID)); ok {
			var r Result
			if err := json.Unmarshal(prev, &r); err == nil {
				r.Duplicate = true
				return &r
			}
		}
	}
	e := &entry{w: w, cmd: cmd, index: l.Index}
	data, aerr := f.dispatch(e)
	res = &Result{Index: l.Index, Err: aerr}
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			panic(fmt.Sprintf("fsm: index %d: encode result: %v", l.Index, err))
		}
		res.Data = b
	}
	if cmd.RequestID != "" {
		w.set(strKey(prefixRequest, cmd.RequestID), encodeResult(res))
		w.set(seqKey(prefixReqIdx, l.Index, 0), []byte(cmd.RequestID))
	}
	f.prune(w, l.Index)
	return res
}

func (f *FSM) dispatch(e *entry) (any, *api.Error) {
	switch e.cmd.Type {
	case CmdInitCluster:
		return applyInit(e)
	case CmdCatalogApply:
		return applyCatalog(e)
	case CmdCatalogDelete:
		return applyCatalogDelete(e)
	case CmdTokenCreate:
		return applyTokenCreate(e)
	case CmdNodeRegister:
		return applyNodeRegister(e)
	case CmdNodeRemove:
		return applyNodeRemove(e)
	case CmdRestored:
		return applyRestored(e)
	case CmdEventsIngest:
		return applyEventsIngest(e)
	case CmdJoinToken:
		return applyJoinTokenCreate(e)
	case CmdAgentEnroll:
		return applyAgentEnroll(e)
	case CmdAgentRevoke:
		return applyAgentRevoke(e)
	case CmdTokenRevoke:
		return applyTokenRevoke(e)
	case CmdGossipKeys:
		return applyGossipKeys(e)
	case CmdAgentGossip:
		return applyAgentGossip(e)
	case CmdCustomersUpsert:
		return applyCustomersUpsert(e)
	case CmdCustomerErase:
		return applyCustomerErase(e)
	case CmdCustomersDerive:
		return applyCustomersDerive(e)
	}
	if e.cmd.Flags&FlagIgnorable != 0 {
		return nil, nil
	}
	panic(fmt.Sprintf("fsm: index %d: unknown command type %d without the ignorable flag; upgrade this node", e.index, e.cmd.Type))
}

// pruneEvery is how often (in log indexes) Apply drops old change-feed
// entries and request ids. It is a constant so every node prunes at the
// same entries.
const pruneEvery = 1024

// maxPruneDeletes bounds the change-feed records one prune deletes, so the
// entry's transaction stays within badger's limit of about 100,000 writes
// (a feed can hold 5,000 changes per index). Records left below the floor
// are invisible to Changes; later prunes delete them.
const maxPruneDeletes = 20_000

func (f *FSM) prune(w *writer, idx uint64) {
	if idx%pruneEvery != 0 {
		return
	}
	if idx > f.cfg.ChangeRetention {
		floor := idx - f.cfg.ChangeRetention
		// Never lower the floor: a restore raises it to its own index so
		// that every reader from before the restore gets a snapshot.
		if cur, ok := w.get(keyChgFloor); ok && len(cur) == 8 && u64From(cur) > floor {
			floor = u64From(cur)
		}
		for _, k := range w.keys(prefixChange, maxPruneDeletes) {
			if seqIndex(k, prefixChange) >= floor {
				break
			}
			w.del(k)
		}
		w.set(keyChgFloor, u64(floor))
	}
	if idx > f.cfg.RequestRetention {
		floor := idx - f.cfg.RequestRetention
		for _, k := range w.keys(prefixReqIdx, 0) {
			if seqIndex(k, prefixReqIdx) >= floor {
				break
			}
			if rid, ok := w.get(k); ok {
				w.del(strKey(prefixRequest, string(rid)))
			}
			w.del(k)
		}
	}
}

func seqIndex(k, prefix []byte) uint64 {
	if len(k) < len(prefix)+8 || !bytes.HasPrefix(k, prefix) {
		return 0
	}
	return u64From(k[len(prefix) : len(prefix)+8])
}

func u64From(b []byte) uint64 {
	var v uint64
	for _, c := range b[:8] {
		v = v<<8 | uint64(c)
	}
	return v
}

func decodePayload[T any](e *entry) (T, *api.Error) {
	var p T
	if err := json.Unmarshal(e.cmd.Payload, &p); err != nil {
		return p, api.Errorf(api.CodeBadRequest, "%s payload: %v", e.cmd.Type, err)
	}
	return p, nil
}
