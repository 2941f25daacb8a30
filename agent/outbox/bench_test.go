package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/protocol"
)

// benchEvent is about 200 bytes encoded.
func benchEvent(i int) protocol.ContactEvent {
	return protocol.ContactEvent{
		CustomerID: fmt.Sprintf("cust-%08d", i),
		Channel:    "kiosk",
		Type:       protocol.ContactOffer,
		Outcome:    protocol.OutcomeAccepted,
		DecisionID: "d-7f3a9c21",
		OfferID:    "offer-5g",
		Value:      49.5,
		Time:       time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

func BenchmarkOutbox_Append1Writer(b *testing.B)   { benchAppend(b, 1) }
func BenchmarkOutbox_Append64Writers(b *testing.B) { benchAppend(b, 64) }

// benchAppend runs b.N Appends spread over writers goroutines and reports
// throughput and the latency percentiles of single Appends.
func benchAppend(b *testing.B, writers int) {
	o, err := Open(Config{Dir: b.TempDir(), AgentID: "agent-bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	e := benchEvent(0)
	e.AgentID, e.Seq = "agent-bench", 1
	if v, _ := json.Marshal(&e); len(v) < 180 || len(v) > 240 {
		b.Fatalf("bench event is %d bytes encoded, want about 200", len(v))
	}
	lat := make([][]time.Duration, writers)
	for w := range lat {
		lat[w] = make([]time.Duration, 0, b.N/writers+1)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for w := range writers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				t0 := time.Now()
				if _, err := o.Append(context.Background(), benchEvent(int(i))); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(p*float64(len(all)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "appends/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
