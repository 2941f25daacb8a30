package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// acceptEvents serves the events streams the agent opens, one at a time.
func (s *session) acceptEvents(ctx context.Context) {
	for {
		st, err := s.conn.AcceptStream(ctx)
		if err != nil {
			return
		}
		s.events.Lock()
		err = s.serveEvents(ctx, st)
		s.events.Unlock()
		closeStream(st)
		if err != nil && ctx.Err() == nil {
			s.g.log.Debug("events stream ended", "agent", s.id, "error", err)
		}
	}
}

// serveEvents commits the agent's batches in order and acknowledges each
// after Raft commit; the empty batch that opens the stream is answered with
// where the cluster stands. Any failure
// ends the stream with an Error: the agent opens a new one and resends
// from the mark it is then given (duplicates are dropped by the FSM).
func (s *session) serveEvents(ctx context.Context, st *quic.Stream) error {
	g := s.g
	for {
		f, err := wire.ReadFrame(st, maxEventsFrame)
		if err != nil {
			return err
		}
		if f.Type != wire.MsgEvents {
			if f.Type >= wire.FirstOptionalType {
				continue
			}
			err := api.Errorf(api.CodeBadRequest, "an events stream carries events, not %s", f.Type)
			g.replyError(st, err)
			return err
		}
		var batch wire.Events
		if err := f.Decode(&batch); err != nil {
			err := api.Errorf(api.CodeInvalidJSON, "%v", err)
			g.replyError(st, err)
			return err
		}
		s.seen(nil)
		res, err := g.ingest(ctx, s.id, batch.Events)
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

// ingest commits one agent's batch: through Raft on the leader, forwarded
// to the leader's gateway elsewhere. A leadership change while the batch is
// in flight is retried (the high-water mark makes the retry harmless) until
// ctx ends.
func (g *Gateway) ingest(ctx context.Context, agentID string, events []protocol.ContactEvent) (fsm.IngestResult, error) {
	if len(events) == 0 {
		mark, err := g.state.AgentMark(agentID)
		return fsm.IngestResult{HighestSeq: mark}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	backoff := 20 * time.Millisecond
	for {
		var res fsm.IngestResult
		var err error
		if g.store.IsLeader() {
			res, err = g.applyEvents(ctx, agentID, events)
		} else {
			res, err = g.fwd.events(ctx, agentID, events)
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

// applyEvents proposes an ingest entry on the leader.
func (g *Gateway) applyEvents(ctx context.Context, agentID string, events []protocol.ContactEvent) (fsm.IngestResult, error) {
	var out fsm.IngestResult
	cmd, err := fsm.Encode(fsm.CmdEventsIngest, 0, fsm.Envelope{Time: g.cfg.Now().UnixNano(), Actor: "agent:" + agentID, Role: "agent"},
		fsm.EventsIngest{AgentID: agentID, Events: events})
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
