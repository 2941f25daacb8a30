package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"touchpoint.dev/touchpoint/controlplane"
	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
)

// demoPurchaseAgent is the ledger's name for the demo's sample
// point-of-sale history.
const demoPurchaseAgent = "demo-pos"

// recordDemoPurchases gives the sample customers a purchase history in the
// contact ledger, as a point-of-sale feed would: two in three of C3…C1000
// bought on one to eight days over the last half year, for 20–300 yuan,
// so that `touchpoint segments run` has recency, frequency, spend and
// lifetime value to score. Every purchase is more than a week old, so none
// counts toward the demo's weekly contact cap. Deterministic; committed
// straight through the node's Raft, as the gateway commits agents' events.
func recordDemoPurchases(ctx context.Context, srv *controlplane.Server, now time.Time) (int, error) {
	r := rand.New(rand.NewPCG(2026, 12))
	day := now.UTC().Truncate(24 * time.Hour)
	batch := fsm.EventsIngest{AgentID: demoPurchaseAgent}
	total := 0
	flush := func() error {
		if len(batch.Events) == 0 {
			return nil
		}
		cmd, err := fsm.Encode(fsm.CmdEventsIngest, 0, fsm.Envelope{Time: now.UnixNano(), Actor: demoPurchaseAgent}, batch)
		if err != nil {
			return err
		}
		res, err := srv.Store().Apply(ctx, cmd)
		if err != nil {
			return err
		}
		if res.Err != nil {
			return res.Err
		}
		total += len(batch.Events)
		batch.Events = batch.Events[:0]
		return nil
	}
	for i := 3; i <= demoBase; i++ {
		if r.IntN(3) == 0 {
			continue // a third never bought anything
		}
		id := "C" + strconv.Itoa(i)
		last := 8 + r.IntN(172) // days ago
		days := 1 + r.IntN(8)
		spend := 20 + r.Float64()*280
		for d := range days {
			ago := last + d*(3+r.IntN(20))
			if ago > 180 {
				break
			}
			batch.Events = append(batch.Events, protocol.ContactEvent{AgentID: demoPurchaseAgent, Seq: uint64(total + len(batch.Events) + 1),
				Time: day.Add(-time.Duration(ago)*24*time.Hour + time.Duration(9+r.IntN(12))*time.Hour), CustomerID: id,
				Channel: protocol.ChannelKiosk, Type: protocol.ContactTransaction, Outcome: protocol.OutcomeAccepted,
				Value: float64(int(spend*(0.7+0.6*r.Float64())*100)) / 100})
		}
		if len(batch.Events) >= 5000 {
			if err := flush(); err != nil {
				return total, fmt.Errorf("record sample purchases: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return total, fmt.Errorf("record sample purchases: %w", err)
	}
	return total, nil
}
