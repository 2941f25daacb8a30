package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol/api"
)

// kvInput is one catalogue operation on one offer: a write of a value
// unique to that write, or a leader-verified read.
type kvInput struct {
	write bool
	key   string
	value int64
}

// kvOutput is what an operation returned: the value a read saw (0 when the
// offer did not exist), or that a write's outcome is unknown.
type kvOutput struct {
	value   int64
	unknown bool
}

// opMeta says which node served an operation and, for an unknown write,
// why it is unknown; the visualization shows it.
type opMeta struct {
	node int
	err  string
}

// catalogModel is a register per offer id: a write sets it, a read must see
// it. An absent offer reads as 0; every write's value is positive.
var catalogModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(kvInput).key
			byKey[k] = append(byKey[k], op)
		}
		keys := make([]string, 0, len(byKey))
		for k := range byKey {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return int64(0) },
	Step: func(state, input, output any) (bool, any) {
		in, out := input.(kvInput), output.(kvOutput)
		if in.write {
			// An unknown write that was never applied is linearized
			// after everything else (its return is MaxInt64), so a write
			// may always take effect here.
			return true, in.value
		}
		return out.value == state.(int64), state
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		if in.write {
			if out.unknown {
				return fmt.Sprintf("put(%s, %d) -> ?", in.key, in.value)
			}
			return fmt.Sprintf("put(%s, %d)", in.key, in.value)
		}
		if out.value == 0 {
			return fmt.Sprintf("get(%s) -> absent", in.key)
		}
		return fmt.Sprintf("get(%s) -> %d", in.key, out.value)
	},
	DescribeState: func(state any) string {
		if v := state.(int64); v != 0 {
			return fmt.Sprint(v)
		}
		return "absent"
	},
	DescribeOperationMetadata: func(info any) string {
		m, ok := info.(opMeta)
		if !ok {
			return ""
		}
		if m.err != "" {
			return fmt.Sprintf("via n%d: %s", m.node, m.err)
		}
		return fmt.Sprintf("via n%d", m.node)
	},
}

// history collects operations from every client.
type history struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
	// procs hands out a fresh client id after an unknown outcome: the old
	// one still has an operation open forever.
	procs atomic.Int64
}

// now is a monotonic timestamp.
func (h *history) now() int64 { return time.Since(h.start).Nanoseconds() }

func (h *history) add(op porcupine.Operation) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// withoutUnobservedUnknowns drops unknown writes whose value no read saw.
// Such a write can always be linearized last, so the history is
// linearizable with it exactly when it is without it; dropping it keeps the
// checker's search small.
func withoutUnobservedUnknowns(ops []porcupine.Operation) []porcupine.Operation {
	seen := map[int64]bool{}
	for _, op := range ops {
		if in := op.Input.(kvInput); !in.write {
			seen[op.Output.(kvOutput).value] = true
		}
	}
	out := ops[:0:0]
	for _, op := range ops {
		in, o := op.Input.(kvInput), op.Output.(kvOutput)
		if in.write && o.unknown && !seen[in.value] {
			continue
		}
		out = append(out, op)
	}
	return out
}

func readValue(o *api.Object) (int64, error) {
	var d struct {
		Value *float64 `json:"value"`
	}
	if err := json.Unmarshal(o.Doc, &d); err != nil {
		return 0, fmt.Errorf("decode offer %s: %w", o.ID, err)
	}
	if d.Value == nil {
		return 0, fmt.Errorf("offer %s has no value: %s", o.ID, o.Doc)
	}
	return int64(*d.Value), nil
}

func TestLinearizability_CatalogUnderLeaderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-node cluster for about ten seconds")
	}
	const (
		clients    = 6
		runFor     = 9 * time.Second
		reqTimeout = 3 * time.Second
	)
	keys := []string{"lin-a", "lin-b", "lin-c", "lin-d"}

	c := cptest.New(t, 3)
	h := &history{start: time.Now()}
	h.procs.Store(clients)
	var nextValue atomic.Int64
	var writesOK, readsOK, unknown atomic.Int64

	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() }) // before the cluster stops
	rot := rand.IntN(len(c.Nodes))
	for w := 0; w < clients; w++ {
		node := (w + rot) % len(c.Nodes) // every node, followers included
		cl := c.Client(node)
		wg.Add(1)
		go func(proc int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(rand.Uint64(), uint64(proc)))
			for runCtx.Err() == nil {
				key := keys[rng.IntN(len(keys))]
				rctx, cancel := context.WithTimeout(context.Background(), reqTimeout)
				var failed bool
				if rng.IntN(2) == 0 {
					v := nextValue.Add(1)
					doc := fmt.Sprintf(`{"kind":"Offer","id":%q,"category":"upsell","value":%d,"cost":0}`, key, v)
					call := h.now()
					_, err := cl.Apply(rctx, []byte(doc), "application/json")
					ret := h.now()
					op := porcupine.Operation{ClientId: proc, Input: kvInput{write: true, key: key, value: v},
						Call: call, Output: kvOutput{}, Return: ret, Metadata: opMeta{node: node}}
					if err != nil {
						// Applied or not, nobody can tell: it may take
						// effect at any time after its call.
						op.Output, op.Return = kvOutput{unknown: true}, math.MaxInt64
						op.Metadata = opMeta{node: node, err: err.Error()}
						unknown.Add(1)
						proc, failed = int(h.procs.Add(1)-1), true
					} else {
						writesOK.Add(1)
					}
					h.add(op)
				} else {
					call := h.now()
					o, err := cl.Get(rctx, "offers", key, false)
					ret := h.now()
					var v int64
					switch e := (*api.Error)(nil); {
					case err == nil:
						if v, err = readValue(o); err != nil {
							t.Errorf("read through n%d: %v", node, err)
							failed = true
						}
					case errors.As(err, &e) && e.Code == api.CodeNotFound:
						err = nil // absent
					default:
						failed = true // a failed read observed nothing
					}
					if err == nil {
						readsOK.Add(1)
						h.add(porcupine.Operation{ClientId: proc, Input: kvInput{key: key},
							Call: call, Output: kvOutput{value: v}, Return: ret, Metadata: opMeta{node: node}})
					}
				}
				cancel()
				if failed {
					// Back off so a dead node does not flood the history
					// with unknown writes.
					select {
					case <-runCtx.Done():
					case <-time.After(100 * time.Millisecond):
					}
				}
			}
		}(w)
	}

	// Kill the leader twice, bringing it back a second later each time.
	begin := time.Now()
	for round := 0; round < 2; round++ {
		time.Sleep(2 * time.Second)
		l := c.Leader()
		t.Logf("%v: killing leader %s", time.Since(begin).Round(time.Millisecond), c.Nodes[l].ID)
		c.Nodes[l].Kill()
		time.Sleep(time.Second)
		c.Restart(c.Nodes[l])
		t.Logf("%v: restarted %s", time.Since(begin).Round(time.Millisecond), c.Nodes[l].ID)
	}
	time.Sleep(time.Until(begin.Add(runFor)))
	stop()
	wg.Wait()

	ops := withoutUnobservedUnknowns(h.ops)
	t.Logf("%d writes and %d reads succeeded, %d writes unknown (%d of them observed); %d operations checked",
		writesOK.Load(), readsOK.Load(), unknown.Load(), int64(len(ops))-writesOK.Load()-readsOK.Load(), len(ops))
	if writesOK.Load() < 50 || readsOK.Load() < 50 {
		t.Fatalf("too few operations succeeded to say anything: %d writes, %d reads", writesOK.Load(), readsOK.Load())
	}

	checkStart := time.Now()
	res, info := porcupine.CheckOperationsVerbose(catalogModel, ops, 30*time.Second)
	t.Logf("porcupine: %s in %v", res, time.Since(checkStart).Round(time.Millisecond))
	if res == porcupine.Ok {
		return
	}
	f, err := os.CreateTemp("", "touchpoint-linearizability-*.html")
	if err == nil {
		err = porcupine.Visualize(catalogModel, info, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.Errorf("write visualization: %v", err)
	} else {
		t.Logf("visualization: %s", f.Name())
	}
	switch res {
	case porcupine.Illegal:
		t.Fatal("the catalogue history is not linearizable")
	default:
		t.Fatalf("linearizability check gave no answer within its timeout (%s)", res)
	}
}
