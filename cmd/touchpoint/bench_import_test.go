//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane/cptest"
)

// benchRows is TOUCHPOINT_BENCH_ROWS, the customers of the import and
// segmentation benchmarks (default 1,000,000).
func benchRows(b *testing.B) int {
	v := os.Getenv("TOUCHPOINT_BENCH_ROWS")
	if v == "" {
		return 1_000_000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("TOUCHPOINT_BENCH_ROWS=%q", v)
	}
	return n
}

// writeImportFile writes a CSV of n customers with the columns of the
// README's example plus region, plan and ARPU.
func writeImportFile(b *testing.B, n int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "customers.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "customerID,name,phone,tenureMonths,voiceMinutes,dataMB,sms,region,plan,arpu")
	regions := []string{"sh-pudong", "sh-minhang", "bj-chaoyang", "gz-tianhe", "sz-nanshan"}
	plans := []string{"basic-38", "family-88", "5g-max-128", "youth-58"}
	var line []byte
	for i := range n {
		line = line[:0]
		line = append(line, 'C')
		line = strconv.AppendInt(line, int64(i+1), 10)
		line = append(line, ",Customer "...)
		line = strconv.AppendInt(line, int64(i+1), 10)
		line = append(line, ",138"...)
		line = append(line, fmt.Sprintf("%08d", i%100_000_000)...)
		line = append(line, ',')
		line = strconv.AppendInt(line, int64(1+i%120), 10)
		line = append(line, ',')
		line = strconv.AppendInt(line, int64(i*7%2000), 10)
		line = append(line, ',')
		line = strconv.AppendInt(line, int64(i*13%30000), 10)
		line = append(line, ',')
		line = strconv.AppendInt(line, int64(i%300), 10)
		line = append(line, ',')
		line = append(line, regions[i%len(regions)]...)
		line = append(line, ',')
		line = append(line, plans[i%len(plans)]...)
		line = append(line, ',')
		line = strconv.AppendFloat(line, 38+float64(i%9000)/100, 'f', 2, 64)
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkCustomersImport: `touchpoint customers import` of a CSV of
// TOUCHPOINT_BENCH_ROWS customers (default 1,000,000) into a three-node
// loopback cluster, through the real command (argument parsing, CSV typing,
// batches of 2,000 over 4 requests in flight to the leader, Raft with every
// append fsynced on every node, the FSM's writes and change records). Run
// with -benchtime 1x; it reports rows/s, the total seconds of one import and
// the CPU seconds the process (the CLI and all three nodes) spent on it, a
// figure that depends less on what else the machine runs.
// TOUCHPOINT_BENCH_FOLLOWER=1 sends the import to a follower instead.
func BenchmarkCustomersImport(b *testing.B) {
	rows := benchRows(b)
	file := writeImportFile(b, rows)
	b.ReportAllocs()
	var total time.Duration
	var cpu float64
	for range b.N {
		b.StopTimer()
		c := cptest.New(b, 3)
		node := c.Leader()
		if os.Getenv("TOUCHPOINT_BENCH_FOLLOWER") != "" {
			node = c.Follower()
		}
		addr := c.Nodes[node].URL()
		b.StartTimer()
		start, cpuStart := time.Now(), cpuSeconds()
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"touchpoint", "--addr", addr, "--token", c.Token,
			"customers", "import", file, "--id-column", "customerID", "-o", "json"}, &out, &errb)
		elapsed := time.Since(start)
		cpu += cpuSeconds() - cpuStart
		b.StopTimer()
		total += elapsed
		if code != 0 {
			b.Fatalf("import: exit %d: %s", code, errb.String())
		}
		var rep struct{ Imported, Skipped int }
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Imported != rows || rep.Skipped != 0 {
			b.Fatalf("import report %s: %v", out.String(), err)
		}
		// Every node holds every profile, once it has applied what any
		// node has (the leadership may have moved during the import: the
		// node the CLI talked to is then not the furthest ahead).
		var last uint64
		for i := range c.Nodes {
			last = max(last, c.Store(i).FSM().Applied())
		}
		c.WaitApplied(last)
		for i := range c.Nodes {
			if n, _, err := c.Store(i).FSM().CustomerCounts(); err != nil || n != rows {
				b.Fatalf("node %d holds %d customers (%v), want %d", i, n, err, rows)
			}
		}
		for _, nd := range c.Nodes {
			nd.Stop()
		}
	}
	secs := total.Seconds() / float64(b.N)
	b.ReportMetric(float64(rows)/secs, "rows/s")
	b.ReportMetric(secs, "s/import")
	b.ReportMetric(cpu/float64(b.N), "cpu-s/import")
}

// cpuSeconds is the CPU time (user and system) the process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
