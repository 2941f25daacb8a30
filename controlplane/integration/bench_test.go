package integration

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol/api"
)

func benchClient(url, token string, conns int) *api.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns * 2
	tr.MaxIdleConnsPerHost = conns * 2
	return api.NewClient(url, token, &http.Client{Transport: tr, Timeout: 30 * time.Second})
}

// benchOffer is a catalogue write of about 200 bytes.
func benchOffer(i int64) []byte {
	return []byte(fmt.Sprintf(`{"kind":"Offer","id":"bench-%d","name":"bench offer %d","category":"upsell","value":%d,"cost":3,"channels":["kiosk","ivr"],"eligibility":"profile.tenureMonths >= %d"}`, i%5000, i, i%997, i%24))
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

// runWriters issues b.N applies from `clients` goroutines against url and
// reports writes/s and latency percentiles.
func runWriters(b *testing.B, url, token string, clients int, body func(int64) []byte, perOp float64, unit string) {
	cl := benchClient(url, token, clients)
	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	var failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				t0 := time.Now()
				if _, err := cl.Apply(context.Background(), body(i), "application/json"); err != nil {
					failed.Add(1)
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d writes failed", f, b.N)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)*perOp/elapsed.Seconds(), unit)
	b.ReportMetric(float64(percentile(all, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(all, 0.99).Microseconds())/1000, "p99-ms")
}

// BenchmarkClusterWrites: acknowledged catalogue writes (one ~200-byte
// offer per request, committed through Raft with every log append fsynced)
// on a three-node loopback cluster, sent to the leader.
func BenchmarkClusterWrites(b *testing.B) {
	for _, clients := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			c := cptest.New(b, 3, cptest.ProductionRaft)
			runWriters(b, c.Nodes[c.Leader()].URL(), c.Token, clients, benchOffer, 1, "writes/s")
		})
	}
}

// BenchmarkClusterWritesViaFollower: the same through a follower, which
// forwards every write to the leader.
func BenchmarkClusterWritesViaFollower(b *testing.B) {
	c := cptest.New(b, 3, cptest.ProductionRaft)
	runWriters(b, c.Nodes[c.Follower()].URL(), c.Token, 64, benchOffer, 1, "writes/s")
}

// BenchmarkClusterBatchedApply: 1,000 documents per apply request, one
// client; reported in documents/s.
func BenchmarkClusterBatchedApply(b *testing.B) {
	const perBatch = 1000
	c := cptest.New(b, 3, cptest.ProductionRaft)
	batch := func(i int64) []byte {
		var sb strings.Builder
		sb.WriteByte('[')
		for j := int64(0); j < perBatch; j++ {
			if j > 0 {
				sb.WriteByte(',')
			}
			sb.Write(benchOffer(i*perBatch + j))
		}
		sb.WriteByte(']')
		return []byte(sb.String())
	}
	runWriters(b, c.Nodes[c.Leader()].URL(), c.Token, 1, batch, perBatch, "docs/s")
}
