package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/agent/cache"
	"touchpoint.dev/touchpoint/agent/link"
	"touchpoint.dev/touchpoint/agent/outbox"
	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// timedOutbox is the real outbox with the time of every Ack recorded, so
// the benchmark can tell when each event was committed by the cluster.
type timedOutbox struct {
	*outbox.Outbox
	appended []atomic.Int64 // unix nanos at Append's return, by sequence
	latency  []time.Duration
	mu       sync.Mutex
	acked    uint64
}

func (o *timedOutbox) Ack(through uint64) error {
	err := o.Outbox.Ack(through)
	now := time.Now().UnixNano()
	o.mu.Lock()
	for seq := o.acked + 1; seq <= through && seq < uint64(len(o.appended)); seq++ {
		if at := o.appended[seq].Load(); at > 0 {
			o.latency = append(o.latency, time.Duration(now-at))
		}
	}
	o.acked = max(o.acked, through)
	o.mu.Unlock()
	return err
}

func benchEnv(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

// BenchmarkIngest: contact events end to end — appended (fsynced, group
// commit) to the outboxes of three agents by 64 writers, streamed by each
// agent's link over QUIC to a different node of a three-node cluster,
// committed through Raft with every append fsynced on every node, and
// acknowledged back to the outbox. Events are about 230 bytes of JSON.
// Each iteration runs for TOUCHPOINT_BENCH_DURATION (default 60s); with
// TOUCHPOINT_BENCH_RATE (events/s, default 0: as fast as the writers go)
// the writers offer a fixed load instead. Run with -benchtime 1x. It
// reports the rate the cluster acknowledged and the latency from Append's
// return to the acknowledgement (p50, p99).
func BenchmarkIngest(b *testing.B) {
	dur := benchEnv("TOUCHPOINT_BENCH_DURATION", 60*time.Second)
	var rate float64
	if v := os.Getenv("TOUCHPOINT_BENCH_RATE"); v != "" {
		fmt.Sscanf(v, "%g", &rate)
	}
	const writersPerAgent = 64
	agents := 3
	if v := os.Getenv("TOUCHPOINT_BENCH_AGENTS"); v != "" {
		fmt.Sscanf(v, "%d", &agents)
	}
	c := cptest.New(b, 3)
	cl := c.Client(0)
	// TOUCHPOINT_BENCH_FOLLOWER=1 starts the agents on a follower.
	nodeOffset := c.Leader()
	if os.Getenv("TOUCHPOINT_BENCH_FOLLOWER") != "" {
		nodeOffset++
	}
	tok, err := cl.JoinToken(context.Background(), api.JoinTokenRequest{TTL: "1h", Uses: agents * max(1, b.N)})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		var obs []*timedOutbox
		var links []*link.Link
		ctx, cancel := context.WithCancel(context.Background())
		var runs sync.WaitGroup
		for a := 0; a < agents; a++ {
			id := fmt.Sprintf("bench-%d-%d", i, a)
			dir := filepath.Join(b.TempDir(), id)
			ob, err := outbox.Open(outbox.Config{Dir: filepath.Join(dir, "outbox"), AgentID: id, MaxBytes: 4 << 30})
			if err != nil {
				b.Fatal(err)
			}
			ca, err := cache.Open(cache.Config{Dir: filepath.Join(dir, "cache")})
			if err != nil {
				b.Fatal(err)
			}
			// Room for the sequences this run can reach.
			to := &timedOutbox{Outbox: ob, appended: make([]atomic.Int64, 8_000_000)}
			l, err := link.New(link.Config{AgentID: id, Site: "bench", Channel: "kiosk", Version: "bench",
				Servers: []string{c.Nodes[(a+nodeOffset)%3].QUICAddr()}, JoinToken: tok.Token, Dir: filepath.Join(dir, "identity")}, ca, to)
			if err != nil {
				b.Fatal(err)
			}
			obs, links = append(obs, to), append(links, l)
			runs.Add(1)
			go func() {
				defer runs.Done()
				_ = l.Run(ctx)
				_ = l.Close()
				_ = ca.Close()
			}()
			b.Cleanup(func() { _ = ob.Close() })
		}
		for _, l := range links {
			for !l.Status().Connected {
				time.Sleep(20 * time.Millisecond)
			}
		}
		b.ResetTimer()
		start := time.Now()
		deadline := start.Add(dur)
		var wg sync.WaitGroup
		var offered atomic.Int64
		for w := 0; w < writersPerAgent*agents; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				ob := obs[w%agents]
				ev := protocol.ContactEvent{Channel: "kiosk", Site: "shanghai-pudong-01", Type: protocol.ContactOffer, Outcome: protocol.OutcomePresented,
					OfferID: "retain-10", CampaignID: "winback-q4", DecisionID: "d-7f3a9c2e41b84d0e9a61c5f2"}
				for n := 0; time.Now().Before(deadline); n++ {
					if rate > 0 {
						// Pace: this writer's share of the offered rate.
						due := start.Add(time.Duration(float64(offered.Add(1)) / rate * float64(time.Second)))
						if d := time.Until(due); d > 0 {
							time.Sleep(d)
						}
					}
					ev.CustomerID = fmt.Sprintf("C%08d", (w*1_000_003+n)%5_000_000)
					got, err := ob.Append(context.Background(), ev)
					if err != nil {
						b.Error(err)
						return
					}
					if got.Seq < uint64(len(ob.appended)) {
						ob.appended[got.Seq].Store(time.Now().UnixNano())
					}
				}
			}(w)
		}
		wg.Wait()
		// The rate is what the cluster acknowledged within the window.
		var committed uint64
		for _, ob := range obs {
			committed += ob.Stats().Acked
		}
		elapsed := time.Since(start)
		// Let the rest drain for the latency figures.
		drain := time.Now().Add(30 * time.Second)
		for _, ob := range obs {
			for ob.Stats().Backlog > 0 && time.Now().Before(drain) {
				time.Sleep(20 * time.Millisecond)
			}
		}
		b.StopTimer()
		cancel()
		runs.Wait()
		var lat []time.Duration
		var appended uint64
		for _, ob := range obs {
			lat = append(lat, ob.latency...)
			appended += ob.Stats().NextSeq - 1
		}
		slices.Sort(lat)
		q := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) / 1000 }
		b.ReportMetric(float64(committed)/elapsed.Seconds(), "committed-events/s")
		b.ReportMetric(float64(appended)/elapsed.Seconds(), "appended-events/s")
		if len(lat) > 0 {
			b.ReportMetric(q(0.5), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
		}
	}
}
