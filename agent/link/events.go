package link

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/quic-go/quic-go"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// eventStreams keeps one events stream open for the session: when one
// fails it is torn down, and after a short wait the next is opened. There
// are never two at once; the control stream is not affected.
func (l *Link) eventStreams(ctx context.Context, conn *quic.Conn) {
	bo := newBackoff(l.cfg.BackoffMin, min(l.cfg.BackoffMax, 2*time.Second))
	for ctx.Err() == nil {
		progressed, err := l.eventStream(ctx, conn)
		if ctx.Err() != nil {
			return
		}
		if progressed {
			bo.reset()
		}
		d := bo.next()
		l.log.Warn("events stream ended", "error", err, "retry_in", d.Round(time.Millisecond))
		sleep(ctx, d)
	}
}

// eventStream runs one events stream. The agent opens it with an empty
// Events frame (a QUIC peer learns of a stream only when data arrives on
// it); the node's first frame is EventsAck with the highest sequence the
// cluster holds. From there on the agent sends batches in sequence order,
// at most Window unacknowledged, and the node answers each with EventsAck
// after Raft commit. It reports whether any event was acknowledged.
func (l *Link) eventStream(ctx context.Context, conn *quic.Conn) (progressed bool, err error) {
	s, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return false, fmt.Errorf("open events stream: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	acks := make(chan uint64, 1) // the reader's latest EventsAck (coalesced)
	readDone := make(chan struct{})
	var readErr error
	go func() {
		defer close(readDone)
		defer cancel()
		readErr = l.readAcks(s, acks)
		// Unblock a writer stuck on flow control; the write side is
		// reset rather than closed.
		s.CancelWrite(streamAbort)
	}()
	defer func() {
		cancel()
		s.CancelRead(streamDone)
		<-readDone
		_ = s.Close()
		// The reader's error says why when the writer only saw the
		// cancellation it caused.
		if readErr != nil && (err == nil || errors.Is(err, context.Canceled)) {
			err = readErr
		}
	}()
	stop := context.AfterFunc(ctx, func() { s.CancelRead(streamDone) })
	defer stop()

	if err := wire.WriteFrame(s, wire.MsgEvents, &wire.Events{Events: []protocol.ContactEvent{}}); err != nil {
		return false, err
	}
	var mark uint64
	select {
	case mark = <-acks:
	case <-readDone:
		return false, readErr
	case <-ctx.Done():
		return false, ctx.Err()
	}
	if err := l.ackThrough(mark); err != nil {
		return false, fmt.Errorf("acknowledge through the cluster's mark %d: %w", mark, err)
	}
	sent := max(mark, l.ob.Stats().Acked) // events through sent are with the cluster or in flight
	l.log.Debug("events stream open", "cluster_mark", mark, "next", sent+1)
	var inflight []uint64 // last sequence of each unacknowledged batch
	acked := mark
	poll := time.NewTimer(l.cfg.EventsPoll)
	defer poll.Stop()
	for {
		for len(inflight) > 0 && inflight[0] <= acked {
			inflight = inflight[1:]
		}
		var appended <-chan struct{}
		if len(inflight) < l.cfg.Window {
			appended = l.ob.Appended()
			// The stored bytes go out as they are (binary events): no
			// decoding and encoding again on the way.
			n, evs, first, last, err := l.ob.PendingBinary(sent, l.cfg.BatchMax)
			if err != nil {
				return progressed, fmt.Errorf("read outbox: %w", err)
			}
			if n > 0 {
				if first != sent+1 {
					return progressed, fmt.Errorf("outbox resumes at %d after %d: the cluster would see a gap", first, sent)
				}
				if err := wire.WriteEventsBinary(s, n, evs); err != nil {
					return progressed, err
				}
				sent = last
				inflight = append(inflight, sent)
				l.eventsSent.Add(uint64(n))
				continue
			}
			poll.Reset(l.cfg.EventsPoll)
		}
		select {
		case a := <-acks:
			if a > sent {
				return progressed, fmt.Errorf("the node acknowledged %d, beyond the %d sent", a, sent)
			}
			if a > acked {
				acked = a
				if err := l.ackThrough(a); err != nil {
					return progressed, fmt.Errorf("acknowledge through %d: %w", a, err)
				}
				progressed = true
			}
		case <-appended: // nil while the window is full
		case <-poll.C:
		case <-readDone:
			return progressed, readErr
		case <-ctx.Done():
			return progressed, ctx.Err()
		}
	}
}

// readAcks reads the node's frames on an events stream, passing on the
// highest acknowledged sequence, until the stream fails or the node sends
// Error.
func (l *Link) readAcks(s *quic.Stream, acks chan uint64) error {
	var highest uint64
	for {
		f, err := wire.ReadFrame(s, 1<<20)
		if err != nil {
			return fmt.Errorf("read events stream: %w", err)
		}
		switch f.Type {
		case wire.MsgEventsAck:
			var a wire.EventsAck
			if err := f.Decode(&a); err != nil {
				return err
			}
			if a.HighestSeq < highest {
				continue // acknowledgements only move forward
			}
			highest = a.HighestSeq
			// Keep only the latest: drain a value the writer has not
			// taken yet.
			select {
			case <-acks:
			default:
			}
			acks <- highest
		case wire.MsgError:
			return fmt.Errorf("node ended the events stream: %w", decodeError(f))
		default:
			if f.Type >= wire.FirstOptionalType {
				continue
			}
			if !wire.Known(f.Type) {
				return fmt.Errorf("events stream: %w: %d", wire.ErrUnknownMessage, f.Type)
			}
			return fmt.Errorf("events stream: unexpected %s frame", f.Type)
		}
	}
}
