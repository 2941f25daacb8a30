package gateway_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol/api"
	"touchpoint.dev/touchpoint/protocol/wire"
)

// BenchmarkPropagation: 1,000 simulated agent sessions (one QUIC
// connection each, spread over a three-node cluster) follow the control
// plane; each iteration applies one catalogue change through the leader and
// waits until every session has received it. It reports the delay from the
// apply's acknowledgement to each session's receipt (p50, p99) and to the
// last session (p99 of the per-change maximum), and the garbage collections
// during the run (each one stretches the changes it overlaps: three nodes
// and the simulator share one heap here).
//
// Changes follow each other back to back unless
// TOUCHPOINT_BENCH_CHANGE_INTERVAL_MS spaces them. The simulated agents
// share UDP sockets, TOUCHPOINT_BENCH_AGENTS_PER_SOCKET (default 50) to
// one: a real agent has its own machine, and 1,000 sockets each with its
// own reader only add the simulator's cost to the two cores the nodes run
// on.
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
	// The simulated agents share sockets (see above) and use the agent's
	// QUIC timings (agent/link defaults).
	perSocket := envInt("TOUCHPOINT_BENCH_AGENTS_PER_SOCKET", 50)
	qc := &quic.Config{KeepAlivePeriod: 2 * time.Second, MaxIdleTimeout: 10 * time.Second}
	var tr *quic.Transport
	for i, a := range agents {
		if perSocket > 1 && i%perSocket == 0 {
			uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			t := &quic.Transport{Conn: uc}
			b.Cleanup(func() { _ = t.Close() })
			tr = t
		}
		s, err := a.dialVia(tr, c.Nodes[i%3].QUICAddr(), qc)
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
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gcs := ms.NumGC
	pace := time.Duration(envInt("TOUCHPOINT_BENCH_CHANGE_INTERVAL_MS", 0)) * time.Millisecond
	for i := 0; i < b.N; i++ {
		time.Sleep(pace)
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
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.NumGC-gcs), "gcs")
	slices.Sort(all)
	slices.Sort(worst)
	q := func(d []time.Duration, p float64) float64 {
		return float64(d[int(float64(len(d)-1)*p)].Microseconds()) / 1000
	}
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

// BenchmarkIngestGateway: contact events (about 200 bytes each) sent by
// simulated agents straight to the gateways of a three-node cluster (one
// agent per node, batches of 1,000, four in flight), committed through
// Raft with fsync on every node. It isolates the control plane's side of
// the ingest path; the end-to-end figure with the agent's outbox is
// BenchmarkIngest in cmd/touchpoint.
func BenchmarkIngestGateway(b *testing.B) {
	const agents, batchSize, window = 3, 1000, 4
	c := cptest.New(b, 3)
	waitGateways(b, c)
	cl := c.Client(c.Leader())
	tok, err := cl.JoinToken(context.Background(), api.JoinTokenRequest{TTL: "1h", Uses: agents})
	if err != nil {
		b.Fatal(err)
	}
	type sender struct {
		a  *testAgent
		st *quic.Stream
	}
	senders := make([]sender, agents)
	for i := range senders {
		a := newTestAgent(b, fmt.Sprintf("bench-%d", i))
		if code := a.enroll(c.Nodes[0].QUICAddr(), tok.Token); code != "" {
			b.Fatal(code)
		}
		s, err := a.dial(c.Nodes[i%3].QUICAddr())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(s.close)
		if _, code, err := s.hello(a.id, "", 0, 0); err != nil || code != "" {
			b.Fatalf("hello: %v %s", err, code)
		}
		st, _ := s.events(b)
		senders[i] = sender{a, st}
	}
	per := (b.N + agents - 1) / agents
	b.SetBytes(200)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for _, sd := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acks := make(chan uint64, window)
			go func() {
				for {
					_ = sd.st.SetReadDeadline(time.Now().Add(30 * time.Second))
					f, err := wire.ReadFrame(sd.st, 0)
					if err != nil {
						close(acks)
						return
					}
					var ack wire.EventsAck
					if f.Type != wire.MsgEventsAck || f.Decode(&ack) != nil {
						b.Errorf("%s: got %s", sd.a.id, f.Type)
						close(acks)
						return
					}
					acks <- ack.HighestSeq
				}
			}()
			inflight := 0
			for next := uint64(1); next <= uint64(per); {
				n := min(uint64(batchSize), uint64(per)-next+1)
				if err := wire.WriteFrame(sd.st, wire.MsgEvents, batch(sd.a.id, next, n)); err != nil {
					b.Error(err)
					return
				}
				next += n
				inflight++
				if inflight == window {
					if _, ok := <-acks; !ok {
						return
					}
					inflight--
				}
			}
			for ; inflight > 0; inflight-- {
				if _, ok := <-acks; !ok {
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(per*agents)/el.Seconds(), "events/s")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
