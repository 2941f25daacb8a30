package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/quic-go/quic-go"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// maxEventsFrame bounds an Events frame (the FSM takes at most 10,000
// events per batch; 64 KiB is the largest event an outbox stores).
const maxEventsFrame = 16 << 20

// serveEvents commits the agent's batches in order and acknowledges them
// after Raft commit; the empty batch that opens the stream is answered with
// where the cluster stands. Batches that arrive while one is being
// committed are merged into the next entry (up to maxMergedEvents), so an
// agent's throughput is not bounded by one batch per Raft round trip; the
// acknowledgement then covers all of them.
func (s *session) serveEvents(ctx context.Context, st *quic.Stream, r io.Reader) error {
	g := s.g
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan eventBatch, 64)
	readErr := make(chan error, 1)
	go func() {
		readErr <- s.readEvents(ctx, st, r, batches)
	}()
	for {
		var b eventBatch
		select {
		case b = <-batches:
		case err := <-readErr:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	merge:
		for b.n < maxMergedEvents {
			select {
			case more := <-batches:
				b.n += more.n
				b.raw = append(b.raw, more.raw...)
			default:
				break merge
			}
		}
		s.seen(nil)
		res, err := g.ingest(ctx, s.id, b)
		if err != nil {
			g.metrics.BatchErrors.Add(1)
			g.replyError(st, err)
			return err
		}
		if err := wire.WriteFrame(st, wire.MsgEventsAck, wire.EventsAck{HighestSeq: res.HighestSeq}); err != nil {
			return err
		}
	}
}

// maxMergedEvents bounds the events merged into one ingest entry (the FSM
// takes at most 10,000).
const maxMergedEvents = 8000

// eventBatch is n events of the session's agent in protocol's binary form,
// concatenated: what the ingest entry carries.
type eventBatch struct {
	n   int
	raw []byte
}

// readEvents reads the stream's Events and EventsBinary frames for
// serveEvents.
func (s *session) readEvents(ctx context.Context, st *quic.Stream, r io.Reader, out chan<- eventBatch) error {
	g := s.g
	for {
		f, err := wire.ReadFrame(r, maxEventsFrame)
		if err != nil {
			return err
		}
		var b eventBatch
		switch {
		case f.Type == wire.MsgEventsBinary:
			n, raw, err := wire.SplitEventsBinary(f.Payload)
			if err != nil {
				err := api.Errorf(api.CodeBadRequest, "%v", err)
				g.replyError(st, err)
				return err
			}
			b = eventBatch{n: n, raw: raw}
		case f.Type == wire.MsgEvents:
			var batch wire.Events
			if err := f.Decode(&batch); err != nil {
				err := api.Errorf(api.CodeInvalidJSON, "%v", err)
				g.replyError(st, err)
				return err
			}
			for i := range batch.Events {
				if a := batch.Events[i].AgentID; a != s.id {
					err := api.Errorf(api.CodeInvalidField, "event %d belongs to agent %q, not this session's %q", i, a, s.id)
					g.replyError(st, err)
					return err
				}
				b.raw = protocol.AppendEventBinary(b.raw, &batch.Events[i])
			}
			b.n = len(batch.Events)
		case f.Type >= wire.FirstOptionalType:
			continue
		default:
			err := api.Errorf(api.CodeBadRequest, "an events stream carries events, not %s", f.Type)
			g.replyError(st, err)
			return err
		}
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ingest commits one agent's batch: through Raft on the leader, forwarded
// to the leader's gateway elsewhere. A leadership change while the batch is
// in flight is retried (the high-water mark makes the retry harmless) until
// ctx ends.
func (g *Gateway) ingest(ctx context.Context, agentID string, b eventBatch) (fsm.IngestResult, error) {
	if b.n == 0 && g.store.IsLeader() {
		// The leader's state holds every acknowledged batch; a follower
		// may lag, so it asks the leader (an old mark would only cost a
		// resend of duplicates).
		mark, err := g.state.AgentMark(agentID)
		return fsm.IngestResult{HighestSeq: mark}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var payload []byte
	if b.n > 0 {
		payload = fsm.EventsPayload(agentID, b.n, b.raw)
	}
	backoff := 20 * time.Millisecond
	for {
		var res fsm.IngestResult
		var err error
		switch {
		case g.store.IsLeader() && b.n == 0:
			// The stream's opening batch, and this node became leader
			// while it waited for one: its own state has the mark.
			var mark uint64
			mark, err = g.state.AgentMark(agentID)
			res = fsm.IngestResult{HighestSeq: mark}
		case g.store.IsLeader():
			res, err = g.applyPayload(ctx, agentID, fsm.RawPayload(payload))
		default:
			if b.n == 0 {
				res, err = g.fwd.mark(ctx, agentID)
			} else {
				res, err = g.fwd.events(ctx, agentID, b.n, payload)
			}
			if err == nil {
				g.metrics.EventsForwarded.Add(uint64(res.Stored))
			}
		}
		if err == nil {
			g.metrics.Batches.Add(1)
			return res, nil
		}
		var ae *api.Error
		if errors.As(storeError(err), &ae) && ae.Code == api.CodeNoLeader {
			select {
			case <-ctx.Done():
				return res, storeError(err)
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 500*time.Millisecond)
			continue
		}
		return res, storeError(err)
	}
}

// applyPayload proposes an ingest entry (an fsm.EventsIngest, or one
// already encoded by the forwarding node) on the leader.
func (g *Gateway) applyPayload(ctx context.Context, agentID string, payload any) (fsm.IngestResult, error) {
	var out fsm.IngestResult
	cmd, err := fsm.Encode(fsm.CmdEventsIngest, 0, fsm.Envelope{Time: g.cfg.Now().UnixNano(), Actor: "agent:" + agentID, Role: "agent"},
		payload)
	if err != nil {
		return out, api.Errorf(api.CodeBadRequest, "%v", err)
	}
	res, err := g.store.Apply(ctx, cmd)
	if err != nil {
		return out, err
	}
	if res.Err != nil {
		return out, res.Err
	}
	if err := json.Unmarshal(res.Data, &out); err != nil {
		return out, fmt.Errorf("decode ingest result: %w", err)
	}
	g.metrics.EventsCommitted.Add(uint64(out.Stored))
	return out, nil
}

// fleetWait returns a channel closed at the next fleet change
// (enrollment, revocation, gossip keys).
func (g *Gateway) fleetWait() <-chan struct{} {
	g.fleetMu.Lock()
	defer g.fleetMu.Unlock()
	return g.fleetCh
}

// watchFleet wakes sessions when the fleet changed, so revoked agents are
// cut off at once and new gossip keys reach every agent.
func (g *Gateway) watchFleet(ctx context.Context) {
	seen := g.state.FleetGeneration()
	for {
		ch := g.state.Changed()
		if gen := g.state.FleetGeneration(); gen != seen {
			seen = gen
			g.fleetMu.Lock()
			close(g.fleetCh)
			g.fleetCh = make(chan struct{})
			g.fleetMu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
	}
}
