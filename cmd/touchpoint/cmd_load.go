package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
)

// loadCommand drives an agent's decision API and, in the same run, a
// ceiling: a trivial net/http handler on loopback that returns a decision
// the agent really gave, driven by the same generator, so the figures say
// how close the agent comes to what HTTP alone costs on this machine.
//
// The ceiling's server runs in a process of its own (this binary, started
// again as the hidden ceiling-server command), as the agent does: a
// handler inside the generator's process answers without a wake-up
// crossing processes, and measured so it is a ceiling no server process
// reaches (on the 2-core machine of docs/PERFORMANCE.md, one connection:
// p99 0.12 ms in the generator's process, 0.24 ms in its own).
// --ceiling in-process keeps that variant for comparison.
func loadCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "load",
		Usage: "measure an agent's decision API (and the machine's HTTP ceiling) under load",
		Description: "Sends POST /v1/decisions for customers PREFIX1..PREFIXN (random, uniform) on CHANNEL over\n" +
			"--connections keep-alive connections for --duration after a short warm-up, then does the same\n" +
			"against a trivial handler that answers a captured real decision (unless --no-ceiling).\n" +
			"Prints requests/s and latency percentiles for both, and what the errors were.\n" +
			"The decisions are dry runs (\"dryRun\": true): the agent decides in full but logs no holdout\n" +
			"contact, so a load run leaves no trace in the ledger, the contact caps or campaign reports.\n" +
			"--log-holdouts sends real decisions, whose holdouts are logged as a kiosk's would be.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "agent", Value: "http://127.0.0.1:7481", Usage: "agent API `URL`"},
			&cli.StringFlag{Name: "channel", Value: "kiosk", Usage: "decision `CHANNEL`"},
			&cli.StringFlag{Name: "customer-prefix", Value: "C", Usage: "customer ids are `PREFIX`1..PREFIXN"},
			&cli.IntFlag{Name: "customers", Value: 1000, Usage: "`N` customers to pick from"},
			&cli.IntFlag{Name: "connections", Value: 64, Usage: "concurrent keep-alive `CONNECTIONS`"},
			&cli.DurationFlag{Name: "duration", Value: 20 * time.Second, Usage: "measured `DURATION` per target"},
			&cli.DurationFlag{Name: "warmup", Value: 3 * time.Second, Usage: "unmeasured warm-up `DURATION` per target"},
			&cli.BoolFlag{Name: "no-ceiling", Usage: "skip the ceiling run"},
			&cli.StringFlag{Name: "ceiling", Value: ceilingProcess, Usage: "where the ceiling's handler runs: `WHERE` is " + ceilingProcess + " (its own, like the agent) or " + ceilingInProcess + " (the generator's)"},
			&cli.StringFlag{Name: "api-key", EnvVars: []string{"TOUCHPOINT_AGENT_API_KEY"}, Usage: "agent API `KEY`"},
			&cli.BoolFlag{Name: "log-holdouts", Usage: "send real decisions: held-out ones log holdout contacts (count toward caps and campaign reports)"},
			outputFlag(),
		},
		Action: func(c *cli.Context) error {
			out, err := format(c)
			if err != nil {
				return err
			}
			cfg := loadConfig{
				url: strings.TrimRight(c.String("agent"), "/") + "/v1/decisions", channel: c.String("channel"),
				prefix: c.String("customer-prefix"), customers: c.Int("customers"), conns: c.Int("connections"),
				duration: c.Duration("duration"), warmup: c.Duration("warmup"), apiKey: c.String("api-key"),
				dryRun: !c.Bool("log-holdouts"),
			}
			if cfg.customers < 1 || cfg.conns < 1 || cfg.duration <= 0 {
				return usageError(errors.New("--customers and --connections must be at least 1, --duration positive"))
			}
			where := c.String("ceiling")
			if where != ceilingProcess && where != ceilingInProcess {
				return usageError(fmt.Errorf("--ceiling is %s or %s, not %q", ceilingProcess, ceilingInProcess, where))
			}
			captured, err := cfg.capture(c.Context)
			if err != nil {
				return err
			}
			res := loadReport{Connections: cfg.conns, Duration: cfg.duration.String()}
			agentRes, err := runLoad(c.Context, cfg)
			if err != nil {
				return err
			}
			res.Agent = agentRes
			if !c.Bool("no-ceiling") {
				ceil, err := runCeiling(c.Context, cfg, captured, where)
				if err != nil {
					return err
				}
				res.Ceiling = &ceil
				res.CeilingIn = where
				res.ThroughputShare = agentRes.RequestsPerSec / ceil.RequestsPerSec
				res.P99Ratio = agentRes.P99ms / ceil.P99ms
			}
			if out == "json" {
				return e.printJSON(res)
			}
			w := e.stdout
			fmt.Fprintf(w, "%-8s %10s %9s %9s %9s %9s %8s\n", "TARGET", "REQ/S", "P50 MS", "P90 MS", "P99 MS", "MAX MS", "ERRORS")
			row := func(name string, r loadResult) {
				fmt.Fprintf(w, "%-8s %10.0f %9.3f %9.3f %9.3f %9.3f %8d\n", name, r.RequestsPerSec, r.P50ms, r.P90ms, r.P99ms, r.MaxMs, r.Errors)
			}
			row("agent", res.Agent)
			if res.Agent.Errors > 0 {
				// Not in the figures above, which count answered requests.
				fmt.Fprintf(w, "agent errors: %s\n", errorKinds(res.Agent.ErrorsBy))
			}
			if res.Ceiling != nil {
				row("ceiling", *res.Ceiling)
				conns := fmt.Sprintf("%d connections", cfg.conns)
				if cfg.conns == 1 {
					conns = "1 connection"
				}
				fmt.Fprintf(w, "agent/ceiling: throughput %.0f%%, p99 %.2f×  (%s, %s each; ceiling in %s)\n",
					100*res.ThroughputShare, res.P99Ratio, conns, cfg.duration, ceilingWhere(where))
			}
			return nil
		},
	}
}

type loadConfig struct {
	url, channel, prefix, apiKey string
	customers, conns             int
	duration, warmup             time.Duration
	dryRun                       bool // decisions log nothing (their dryRun member)
}

type loadResult struct {
	Requests int `json:"requests"`
	Errors   int `json:"errors"`
	// ErrorsBy counts the errors by what they were ("status 404",
	// "no answer").
	ErrorsBy       map[string]int `json:"errorsBy,omitempty"`
	RequestsPerSec float64        `json:"requestsPerSec"`
	P50ms          float64        `json:"p50ms"`
	P90ms          float64        `json:"p90ms"`
	P99ms          float64        `json:"p99ms"`
	MaxMs          float64        `json:"maxMs"`
}

type loadReport struct {
	Connections     int         `json:"connections"`
	Duration        string      `json:"duration"`
	Agent           loadResult  `json:"agent"`
	Ceiling         *loadResult `json:"ceiling,omitempty"`
	CeilingIn       string      `json:"ceilingIn,omitempty"`
	ThroughputShare float64     `json:"throughputShare,omitempty"`
	P99Ratio        float64     `json:"p99Ratio,omitempty"`
}

func (cfg loadConfig) body(r *rand.Rand) []byte {
	return cfg.request(1 + r.IntN(cfg.customers))
}

// request is the decision request for customer PREFIXi.
func (cfg loadConfig) request(i int) []byte {
	if cfg.dryRun {
		return fmt.Appendf(nil, `{"customerId":"%s%d","channel":%q,"dryRun":true}`, cfg.prefix, i, cfg.channel)
	}
	return fmt.Appendf(nil, `{"customerId":"%s%d","channel":%q}`, cfg.prefix, i, cfg.channel)
}

// capture asks the agent for one real decision (the ceiling answers it).
func (cfg loadConfig) capture(ctx context.Context) ([]byte, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, cfg.url, bytes.NewReader(cfg.request(1)))
	req.Header.Set("Content-Type", "application/json")
	if cfg.apiKey != "" {
		req.Header.Set("X-API-Key", cfg.apiKey)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ask the agent for a decision: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the agent answered %d to %s1: %s", res.StatusCode, cfg.prefix, b)
	}
	var check map[string]any
	if err := json.Unmarshal(b, &check); err != nil {
		return nil, fmt.Errorf("the agent's decision is not JSON: %w", err)
	}
	return b, nil
}

// runLoad drives cfg.url from cfg.conns goroutines, one keep-alive
// connection each, for the warm-up and then the measured duration.
func runLoad(ctx context.Context, cfg loadConfig) (loadResult, error) {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		all      []time.Duration
		errs     = map[string]int{}
		measured = make(chan struct{})
		stop     = make(chan struct{})
	)
	for i := 0; i < cfg.conns; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1, DisableCompression: true,
				DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
			defer tr.CloseIdleConnections()
			cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			r := rand.New(rand.NewPCG(seed, 0x70c4))
			lat := make([]time.Duration, 0, 1<<16)
			bad := map[string]int{}
			on := false
			for {
				select {
				case <-stop:
					mu.Lock()
					all = append(all, lat...)
					for k, n := range bad {
						errs[k] += n
					}
					mu.Unlock()
					return
				case <-measured:
					on = true
				default:
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, cfg.url, bytes.NewReader(cfg.body(r)))
				req.Header.Set("Content-Type", "application/json")
				if cfg.apiKey != "" {
					req.Header.Set("X-API-Key", cfg.apiKey)
				}
				t0 := time.Now()
				res, err := cl.Do(req)
				kind := "no answer"
				if err == nil {
					_, err = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if err == nil && res.StatusCode != http.StatusOK {
						kind, err = fmt.Sprintf("status %d", res.StatusCode), errors.New("not 200")
					}
				}
				d := time.Since(t0)
				if !on {
					continue
				}
				if err != nil {
					bad[kind]++
					continue
				}
				lat = append(lat, d)
			}
		}(uint64(i) + 1)
	}
	sleepCtx(ctx, cfg.warmup)
	close(measured)
	start := time.Now()
	sleepCtx(ctx, cfg.duration)
	close(stop)
	elapsed := time.Since(start)
	wg.Wait()
	if ctx.Err() != nil {
		return loadResult{}, ctx.Err()
	}
	total := 0
	for _, n := range errs {
		total += n
	}
	if len(all) == 0 {
		return loadResult{}, fmt.Errorf("no request to %s succeeded (%d errors: %s)", cfg.url, total, errorKinds(errs))
	}
	slices.Sort(all)
	q := func(p float64) float64 { return float64(all[int(float64(len(all)-1)*p)].Microseconds()) / 1000 }
	return loadResult{
		Requests: len(all), Errors: total, ErrorsBy: errs, RequestsPerSec: float64(len(all)) / elapsed.Seconds(),
		P50ms: q(0.5), P90ms: q(0.9), P99ms: q(0.99), MaxMs: q(1),
	}, nil
}

const (
	ceilingProcess   = "process"
	ceilingInProcess = "in-process"
)

func ceilingWhere(where string) string {
	if where == ceilingInProcess {
		return "the generator's process"
	}
	return "its own process"
}

// ceilingHandler answers every request with the captured decision.
func ceilingHandler(captured []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(captured)
	})
}

// runCeiling serves the captured decision from a trivial handler on
// loopback, in its own process or in this one, and drives it like the
// agent.
func runCeiling(ctx context.Context, cfg loadConfig, captured []byte, where string) (loadResult, error) {
	var addr string
	if where == ceilingInProcess {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return loadResult{}, err
		}
		srv := &http.Server{Handler: ceilingHandler(captured)}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		addr = ln.Addr().String()
	} else {
		stop, a, err := startCeilingProcess(ctx, captured)
		if err != nil {
			return loadResult{}, err
		}
		defer stop()
		addr = a
	}
	cfg.url = "http://" + addr + "/v1/decisions"
	return runLoad(ctx, cfg)
}

// startCeilingProcess starts this binary's ceiling-server command, gives
// it the captured decision as the first line of its standard input and
// returns the address it listens on; stop ends it. The pipe stays open:
// the child ends when it closes, so it does not outlive this process even
// when this one is killed.
func startCeilingProcess(ctx context.Context, captured []byte) (stop func(), addr string, err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", fmt.Errorf("find this program to start the ceiling: %w", err)
	}
	var line bytes.Buffer
	if err := json.Compact(&line, captured); err != nil {
		return nil, "", err
	}
	line.WriteByte('\n')
	cmd := exec.CommandContext(ctx, self, ceilingServerName)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, "", err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start the ceiling's process: %w", err)
	}
	stop = func() { _ = in.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() }
	if _, err := in.Write(line.Bytes()); err != nil {
		stop()
		return nil, "", fmt.Errorf("hand the ceiling's process its answer: %w", err)
	}
	said, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return nil, "", fmt.Errorf("the ceiling's process did not say where it listens: %w", err)
	}
	return stop, strings.TrimSpace(said), nil
}

const ceilingServerName = "ceiling-server"

// ceilingServerCommand is the ceiling's process: it reads the decision to
// answer from the first line of standard input, listens on a free loopback
// port, prints the address on standard output and serves until standard
// input closes.
func ceilingServerCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:   ceilingServerName,
		Usage:  "serve the load command's ceiling (started by touchpoint load)",
		Hidden: true,
		Action: func(c *cli.Context) error {
			in := bufio.NewReader(os.Stdin)
			captured, err := in.ReadBytes('\n')
			if err != nil {
				return fmt.Errorf("read the answer to serve: %w", err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: ceilingHandler(bytes.TrimSuffix(captured, []byte("\n")))}
			go func() {
				_, _ = io.Copy(io.Discard, in)
				_ = srv.Close()
			}()
			fmt.Fprintln(e.stdout, ln.Addr().String())
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// errorKinds lists error counts by kind, most first ("12355 × status
// 404, 3 × no answer"); a 404 is a customer the agent does not know
// (--customers beyond the base?).
func errorKinds(by map[string]int) string {
	kinds := make([]string, 0, len(by))
	for k := range by {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(a, b string) int { return cmp.Or(by[b]-by[a], strings.Compare(a, b)) })
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%d × %s", by[k], k)
		if k == "status 404" {
			parts[i] += " (customers the agent does not know: is --customers beyond the base?)"
		}
	}
	return strings.Join(parts, ", ")
}
