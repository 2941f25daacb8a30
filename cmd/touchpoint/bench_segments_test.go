//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
)

// BenchmarkSegmentsRun: `touchpoint segments run` over TOUCHPOINT_BENCH_ROWS
// customers (default 1,000,000) on a three-node loopback cluster with
// production Raft timeouts, timed from
// the command's start to its answer: reading every profile and the ledger,
// RFM, tiers, stages, the BG/NBD and Gamma-Gamma fits, and writing every
// profile's scores through Raft (fsynced on every node) with the change
// records agents follow. The fixture (untimed) imports the customers with
// `customers import` and gives every second customer one to four purchase
// days in the ledger. Run with -benchtime 1x.
func BenchmarkSegmentsRun(b *testing.B) {
	rows := benchRows(b)
	file := writeImportFile(b, rows)
	asOf := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	var total time.Duration
	var cpu float64
	var settle time.Duration
	for range b.N {
		b.StopTimer()
		c := cptest.New(b, 3, cptest.ProductionRaft)
		addr := c.Nodes[c.Leader()].URL()
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"touchpoint", "--addr", addr, "--token", c.Token,
			"customers", "import", file, "--id-column", "customerID", "-o", "json"}, &out, &errb); code != 0 {
			b.Fatalf("import: exit %d: %s", code, errb.String())
		}
		ingestPurchases(b, c, rows, asOf)
		// A run on a cluster still compacting the import it just took
		// competes with three nodes' compactions on two cores; set
		// TOUCHPOINT_BENCH_UNSETTLED=1 to measure that.
		if os.Getenv("TOUCHPOINT_BENCH_UNSETTLED") == "" {
			waitSettled(b, c)
		}
		b.StartTimer()
		// TOUCHPOINT_BENCH_CPUPROFILE=FILE profiles the run alone (go
		// test's -cpuprofile takes in the import and the ledger too).
		if path := os.Getenv("TOUCHPOINT_BENCH_CPUPROFILE"); path != "" {
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
		start, cpuStart := time.Now(), cpuSeconds()
		out.Reset()
		code := run(context.Background(), []string{"touchpoint", "--addr", addr, "--token", c.Token,
			"segments", "run", "--as-of", asOf.Format(time.DateOnly), "-o", "json"}, &out, &errb)
		elapsed := time.Since(start)
		cpu += cpuSeconds() - cpuStart
		b.StopTimer()
		// The compactions the run's writes leave for later (untimed).
		settleStart := time.Now()
		waitSettled(b, c)
		settle += time.Since(settleStart)
		total += elapsed
		if code != 0 {
			b.Fatalf("segments run: exit %d: %s", code, errb.String())
		}
		if errb.Len() > 0 {
			fmt.Fprintf(os.Stderr, "segments run's stderr: %s\n", errb.String())
		}
		var rep struct {
			Customers, Updated        int
			Unchanged                 int
			ReadSeconds, WriteSeconds float64
			ScoreSeconds              float64
			CLV                       struct{ Customers int }
		}
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Customers != rows || rep.Updated+rep.Unchanged != rows || rep.CLV.Customers != (rows+1)/2 {
			b.Fatalf("segments report %s: %v", out.String(), err)
		}
		// A run retried by the client (the leader changed under it) finds
		// the first attempt's writes: updated + unchanged is every profile.
		fmt.Fprintf(os.Stderr, "segments run: %d updated, %d unchanged; read %.1fs, score %.1fs, write %.1fs\n",
			rep.Updated, rep.Unchanged, rep.ReadSeconds, rep.ScoreSeconds, rep.WriteSeconds)
		for _, nd := range c.Nodes {
			nd.Stop()
		}
	}
	secs := total.Seconds() / float64(b.N)
	b.ReportMetric(secs, "s/run")
	b.ReportMetric(float64(rows)/secs, "customers/s")
	b.ReportMetric(cpu/float64(b.N), "cpu-s/run")
	b.ReportMetric(settle.Seconds()/float64(b.N), "s-to-settle-after")
}

// ingestPurchases gives every second customer (C1, C3, …) one to four
// purchase days before asOf, straight through the leader's Raft.
func ingestPurchases(b *testing.B, c *cptest.Cluster, rows int, asOf time.Time) {
	b.Helper()
	seq := uint64(0)
	batch := fsm.EventsIngest{AgentID: "bench-pos"}
	flush := func() {
		cmd, err := fsm.Encode(fsm.CmdEventsIngest, 0, fsm.Envelope{Time: time.Now().UnixNano()}, batch)
		if err != nil {
			b.Fatal(err)
		}
		// The loaded machine may move the leadership (cptest's Raft
		// timeouts are short); the ledger drops a batch it already holds,
		// so a retry on the new leader is safe.
		for attempt := 0; ; attempt++ {
			r, err := c.Store(c.Leader()).Apply(context.Background(), cmd)
			if err == nil && r.Err == nil {
				break
			}
			if attempt == 10 {
				b.Fatalf("ingest: %v %v", err, r)
			}
			time.Sleep(500 * time.Millisecond)
		}
		batch.Events = batch.Events[:0]
	}
	for i := 0; i < rows; i += 2 {
		id := "C" + strconv.Itoa(i+1)
		for d := range 1 + i%4 {
			seq++
			batch.Events = append(batch.Events, protocol.ContactEvent{AgentID: batch.AgentID, Seq: seq,
				Time: asOf.Add(-time.Duration(1+i%200+d*17) * 24 * time.Hour), CustomerID: id, Channel: "kiosk",
				Type: protocol.ContactTransaction, Outcome: protocol.OutcomeAccepted, Value: float64(20 + (i+d)%180)})
			if len(batch.Events) == 10_000 {
				flush()
			}
		}
	}
	if len(batch.Events) > 0 {
		flush()
	}
}

// waitSettled waits (at most five minutes) until no node's badger has a
// compaction left to pick.
func waitSettled(b *testing.B, c *cptest.Cluster) {
	b.Helper()
	start := time.Now()
	for time.Since(start) < 5*time.Minute {
		settled := true
		for i := range c.Nodes {
			settled = settled && c.Store(i).FSM().Settled()
		}
		if settled {
			fmt.Fprintf(os.Stderr, "compactions settled after %.1fs\n", time.Since(start).Seconds())
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "compactions still running after %v: measuring anyway\n", time.Since(start).Round(time.Second))
}
