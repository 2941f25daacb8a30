package gateway_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// BenchmarkPropagation: 1,000 simulated agent sessions (one QUIC
// connection each, spread over a three-node cluster) follow the control
// plane; each iteration applies one catalogue change through the leader and
// waits until every session has received it. It reports the delay from the
// apply's acknowledgement to each session's receipt (p50, p99) and to the
// last session (p99 of the per-change maximum).
func BenchmarkPropagation(b *testing.B) {
	const sessions = 1000
	c := cptest.New(b, 3)
	waitGateways(b, c)
	cl := c.Client(c.Leader())
	tok, err := cl.JoinToken(context.Background(), api.JoinTokenRequest{TTL: "1h", Uses: sessions})
	if err != nil {
		b.Fatal(err)
	}
	agents := make([]*testAgent, sessions)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range agents {
		agents[i] = newTestAgent(b, fmt.Sprintf("sim-%04d", i))
		wg.Add(1)
		go func(a *testAgent, addr string) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if code := a.enroll(addr, tok.Token); code != "" {
				b.Errorf("enroll %s: %s", a.id, code)
			}
		}(agents[i], c.Nodes[i%3].QUICAddr())
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	// received[i] gets the time session i saw each change index.
	type receipt struct {
		index uint64
		at    time.Time
	}
	received := make(chan receipt, sessions*4)
	var ready sync.WaitGroup
	for i, a := range agents {
		s, err := a.dial(c.Nodes[i%3].QUICAddr())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(s.close)
		if _, code, err := s.hello(a.id, "", 0, 0); err != nil || code != "" {
			b.Fatalf("hello: %v %s", err, code)
		}
		ready.Add(1)
		go func() {
			first := true
			for {
				f, err := wire.ReadFrame(s.ctl, 0)
				if err != nil {
					return
				}
				now := time.Now()
				switch f.Type {
				case wire.MsgSnapshot:
					if first {
						first = false
						ready.Done()
					}
				case wire.MsgChanges:
					var ch wire.Changes
					if err := f.Decode(&ch); err != nil {
						b.Error(err)
						return
					}
					for _, x := range ch.Changes {
						received <- receipt{x.Index, now}
					}
				}
			}
		}()
	}
	ready.Wait()
	var all, worst []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := cl.Apply(context.Background(), fmt.Appendf(nil, offerDoc, fmt.Sprintf("p%d", i)), "application/yaml")
		if err != nil {
			b.Fatal(err)
		}
		acked := time.Now()
		var max time.Duration
		for n := 0; n < sessions; {
			select {
			case r := <-received:
				if r.index != res.Index {
					continue
				}
				d := max0(r.at.Sub(acked))
				all = append(all, d)
				if d > max {
					max = d
				}
				n++
			case <-time.After(30 * time.Second):
				b.Fatalf("change %d: only %d of %d sessions received it", res.Index, n, sessions)
			}
		}
		worst = append(worst, max)
	}
	b.StopTimer()
	slices.Sort(all)
	slices.Sort(worst)
	q := func(d []time.Duration, p float64) float64 { return float64(d[int(float64(len(d)-1)*p)].Microseconds()) / 1000 }
	b.ReportMetric(q(all, 0.5), "p50-ms")
	b.ReportMetric(q(all, 0.99), "p99-ms")
	b.ReportMetric(q(worst, 0.5), "last-p50-ms")
	b.ReportMetric(q(worst, 0.99), "last-p99-ms")
}

func max0(d time.Duration) time.Duration {
	if d < 0 {
		return 0 // the push overtook the HTTP answer
	}
	return d
}

