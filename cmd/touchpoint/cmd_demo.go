package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/agent"
	"touchpoint.dev/touchpoint/controlplane"
	"touchpoint.dev/touchpoint/protocol/api"
)

// demoCatalog is the sample catalogue the demo applies. The first document
// is the README's offer, exactly as written there.
const demoCatalog = `kind: Offer
id: retain-10
name: 10% off for 6 months
category: retention
value: 60
cost: 5
channels: [kiosk, ivr]
eligibility: profile.tenureMonths >= 6
---
kind: Offer
id: data-boost-5g
name: 5 GB data add-on, first month free
category: upsell
value: 30
cost: 8
channels: [kiosk, ivr, terminal]
eligibility: profile.dataMB > 4000
leverWeight: 1.2
suppression: {declines: 2, days: 30, pauseDays: 60}
---
kind: Plan
id: basic-38
name: Basic 38
monthlyFee: 38
voiceMinutes: 100
dataMB: 3072
sms: 50
voiceOverage: 0.15
dataOverage: 0.03
smsOverage: 0.1
---
kind: Plan
id: plus-58
name: Plus 58
monthlyFee: 58
voiceMinutes: 500
dataMB: 10240
sms: 100
voiceOverage: 0.1
dataOverage: 0.02
smsOverage: 0.1
---
kind: Offer
id: move-plus-58
name: Move to Plus 58
category: tariff
value: 20
cost: 0
channels: [kiosk, ivr, terminal]
planId: plus-58
---
kind: Campaign
id: winback-q4
name: Q4 retention
offers: [retain-10]
channels: [kiosk, ivr]
controlGroupPercent: 0
---
kind: Campaign
id: grow-q4
name: Q4 growth and tariff advice
offers: [data-boost-5g, move-plus-58]
channels: [kiosk, ivr, terminal]
controlGroupPercent: 10
---
kind: ContactPolicy
id: default
channel: all
maxContacts: 2
window: 168h
---
kind: ContactPolicy
id: ivr-quiet
channel: ivr
maxContacts: 1
window: 24h
quietHours: {start: "21:00", end: "08:00", timezone: Asia/Shanghai}
`

func demoCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run a one-node control plane on loopback with a sample catalogue and print commands to try",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "data-dir", Usage: "keep the demo's state in `DIR` (default: a temporary directory, removed at exit)"},
			&cli.StringFlag{Name: "http-addr", Value: "127.0.0.1:7400", Usage: "admin API `HOST:PORT` (a free port is chosen if this one is taken)"},
			&cli.StringFlag{Name: "kiosk-addr", Value: "127.0.0.1:7481", Usage: "the kiosk agent's API `HOST:PORT` (a free port if taken)"},
			&cli.StringFlag{Name: "ivr-addr", Value: "127.0.0.1:7482", Usage: "the IVR agent's API `HOST:PORT` (a free port if taken)"},
			&cli.DurationFlag{Name: "for", Usage: "stop after `DURATION` (default: run until Ctrl-C)"},
		}, logFlags("error")...),
		Action: func(c *cli.Context) error {
			log, err := newLogger(c, e.stderr)
			if err != nil {
				return err
			}
			dir := c.String("data-dir")
			if dir == "" {
				dir, err = os.MkdirTemp("", "touchpoint-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
			}
			httpAddr := freeOr(c.String("http-addr"))
			srv, err := controlplane.New(controlplane.Config{
				ID: "demo-1", DataDir: filepath.Join(dir, "controlplane"),
				RaftAddr: "127.0.0.1:0", HTTPAddr: httpAddr, QUICAddr: "127.0.0.1:0", GossipAddr: "127.0.0.1:0",
				Bootstrap: true, MinFreeDisk: controlplane.DefaultMinFreeDisk, Version: version, Logger: log,
			})
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(c.Context)
			defer cancel()
			if d := c.Duration("for"); d > 0 {
				ctx, cancel = context.WithTimeout(ctx, d)
				defer cancel()
			}
			done := make(chan error, 1)
			go func() { done <- srv.Run(ctx) }()

			token, err := waitToken(ctx, filepath.Join(dir, "controlplane", controlplane.AdminTokenFile))
			if err != nil {
				cancel()
				<-done
				return err
			}
			catalogFile := filepath.Join(dir, "catalog.yaml")
			if err := os.WriteFile(catalogFile, []byte(demoCatalog), 0o644); err != nil {
				cancel()
				<-done
				return err
			}
			cl := api.NewClient(srv.URL(), token, nil)
			if _, err := cl.Apply(ctx, []byte(demoCatalog), "application/yaml"); err != nil {
				cancel()
				<-done
				return fmt.Errorf("apply sample catalogue: %w", err)
			}
			customersFile := filepath.Join(dir, "customers.csv")
			n, err := importDemoCustomers(ctx, cl, customersFile)
			if err != nil {
				cancel()
				<-done
				return fmt.Errorf("import sample customers: %w", err)
			}
			purchases, err := recordDemoPurchases(ctx, srv, time.Now())
			if err != nil {
				cancel()
				<-done
				return err
			}
			agents, err := startDemoAgents(ctx, c, cl, srv, dir, log)
			if err != nil {
				cancel()
				<-done
				return err
			}
			e.printDemo(srv.URL(), token, dir, catalogFile, agents[0].URL(), agents[1].URL(), n, purchases)
			<-ctx.Done()
			// Agents first (they leave the gossip pool), then the node.
			for _, a := range agents {
				_ = a.Close()
			}
			err = <-done
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				err = nil
			}
			return err
		},
	}
}

// demoCustomers is the README's customer file; importDemoCustomers adds a
// generated sample base to it.
const demoCustomers = `customerID,name,phone,tenureMonths,voiceMinutes,dataMB,sms
C1,Li Wei,13800000001,12,420,5120,30
C2,Wang Fang,13800000002,3,90,800,10
`

// demoBase is how many customers the demo imports (the README's two and
// generated ones, deterministic).
const demoBase = 1000

// importDemoCustomers writes the sample customer base to file and imports
// it the way "touchpoint customers import FILE --id-column customerID"
// does. It returns how many customers it imported.
func importDemoCustomers(ctx context.Context, cl *api.Client, file string) (int, error) {
	var b strings.Builder
	// The README's rows, with a plan column the generated customers fill
	// (tariff advice re-rates their usage against it).
	for i, line := range strings.Split(strings.TrimSpace(demoCustomers), "\n") {
		if i == 0 {
			line += ",plan"
		} else {
			line += ","
		}
		b.WriteString(line + "\n")
	}
	plans := [...]string{"basic-38", "plus-58"}
	for i := 3; i <= demoBase; i++ {
		fmt.Fprintf(&b, "C%d,Customer %d,139%08d,%d,%d,%d,%d,%s\n", i, i, i, (i*7)%60, (i*37)%900, (i*613)%12000, (i*11)%150, plans[i%2])
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		return 0, err
	}
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	src, err := newCSVSource(f, newColumns("customerID", ""), true, false)
	if err != nil {
		return 0, err
	}
	rep, err := runImport(ctx, src, cl, importConfig{}, nil)
	if err != nil {
		return 0, err
	}
	if rep.Skipped > 0 {
		return rep.Imported, fmt.Errorf("%d sample rows skipped: %v", rep.Skipped, rep.Errors)
	}
	return rep.Imported, nil
}

// freeOr returns addr when it can be bound, else a free port on loopback.
func freeOr(addr string) string {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "127.0.0.1:0"
	}
	ln.Close()
	return addr
}

// startDemoAgents enrolls a kiosk and an IVR agent with one join token and
// runs them until ctx ends.
func startDemoAgents(ctx context.Context, c *cli.Context, cl *api.Client, srv *controlplane.Server, dir string, log *slog.Logger) ([]*agent.Agent, error) {
	tok, err := cl.JoinToken(ctx, api.JoinTokenRequest{TTL: "10m", Uses: 2})
	if err != nil {
		return nil, fmt.Errorf("mint the demo agents' join token: %w", err)
	}
	var agents []*agent.Agent
	for _, d := range []struct{ id, channel, addr string }{
		{"kiosk-1", "kiosk", c.String("kiosk-addr")},
		{"ivr-1", "ivr", c.String("ivr-addr")},
	} {
		a, err := agent.New(agent.Config{ID: d.id, DataDir: filepath.Join(dir, d.id), Site: "shanghai-01", Channel: d.channel,
			HTTPAddr: freeOr(d.addr), GossipAddr: "127.0.0.1:0", ControlPlane: []string{srv.QUICAddr()}, JoinToken: tok.Token,
			MinFreeDisk: agent.DefaultMinFreeDisk, Version: version, Logger: log})
		if err != nil {
			for _, a := range agents {
				_ = a.Close()
			}
			return nil, fmt.Errorf("start demo agent %s: %w", d.id, err)
		}
		go func() { _ = a.Run(ctx) }()
		agents = append(agents, a)
	}
	// Wait until both hold the catalogue, so the printed commands work.
	deadline := time.Now().Add(30 * time.Second)
	for _, a := range agents {
		for a.Status().Config.Index == 0 {
			if time.Now().After(deadline) || ctx.Err() != nil {
				return agents, fmt.Errorf("demo agent %s did not receive the catalogue", a.Status().ID)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return agents, nil
}

func waitToken(ctx context.Context, file string) (string, error) {
	for {
		if b, err := os.ReadFile(file); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b)), nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("the control plane did not write %s: %w", file, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// selfCommand is how the user can run this binary again: `go run
// ./cmd/touchpoint` when they started it that way.
func selfCommand() string {
	if strings.Contains(os.Args[0], "go-build") {
		return "go run ./cmd/touchpoint"
	}
	if filepath.Base(os.Args[0]) == os.Args[0] {
		return os.Args[0]
	}
	return os.Args[0]
}

func (e *env) printDemo(url, token, dir, catalogFile, kioskURL, ivrURL string, customers, purchases int) {
	tp := selfCommand()
	w := e.stdout
	fmt.Fprintln(w, e.msg(msgDemoReady, url))
	fmt.Fprintln(w, e.msg(msgDemoData, dir))
	fmt.Fprintln(w, e.msg(msgDemoCustomers, customers, filepath.Join(dir, "customers.csv")))
	fmt.Fprintln(w, e.msg(msgDemoPurchases, purchases, demoPurchaseAgent))
	fmt.Fprintln(w)
	fmt.Fprintln(w, e.msg(msgDemoTry))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  export TOUCHPOINT_ADDR=%s\n", url)
	fmt.Fprintf(w, "  export TOUCHPOINT_TOKEN=%s\n", token)
	commands := func(cmds ...string) {
		for _, cmd := range cmds {
			fmt.Fprintf(w, "  %s %s\n", tp, cmd)
		}
	}
	commands(
		"cluster status",
		"get offers",
		"get offers retain-10 -o json",
		"get campaigns",
		"get policies -o json",
		"apply -f "+catalogFile,
		"tokens create --role analyst --name marketing",
		"audit",
	)
	fmt.Fprintln(w)
	fmt.Fprintln(w, e.msg(msgDemoAgents, kioskURL, ivrURL))
	fmt.Fprintln(w, e.msg(msgDemoDecisions))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  curl -s -X POST %s/v1/decisions -H 'Content-Type: application/json' -d '{\"customerId\":\"C1\",\"channel\":\"kiosk\"}'\n", kioskURL)
	fmt.Fprintf(w, "  curl -s -X POST %s/v1/decisions -H 'Content-Type: application/json' -d '{\"customerId\":\"C2\",\"channel\":\"kiosk\"}'\n", kioskURL)
	fmt.Fprintf(w, "  curl -s -X POST %s/v1/decisions -H 'Content-Type: application/json' -d '{\"customerId\":\"C1\",\"channel\":\"ivr\",\"intent\":\"cancel\"}'\n", ivrURL)
	fmt.Fprintf(w, "  curl -s -X POST %s/tmf-api/recommendationManagement/v4/queryProductRecommendation -H 'Content-Type: application/json' -d '{\"instantSyncRecommendation\":true,\"channel\":{\"id\":\"kiosk\"},\"relatedParty\":[{\"id\":\"C17\",\"role\":\"customer\"}]}'\n", kioskURL)
	fmt.Fprintf(w, "  curl -s %s/tmf-api/customerManagement/v4/customer/C1\n", kioskURL)
	fmt.Fprintln(w)
	fmt.Fprintln(w, e.msg(msgDemoContacts))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  curl -s -X POST %s/v1/contacts -H 'Content-Type: application/json' -d '{\"customerId\":\"C1\",\"type\":\"offer\",\"outcome\":\"presented\",\"offerId\":\"retain-10\",\"campaignId\":\"winback-q4\"}'\n", kioskURL)
	fmt.Fprintf(w, "  curl -s -X POST %s/v1/contacts -H 'Content-Type: application/json' -d '{\"customerId\":\"C1\",\"type\":\"offer\",\"outcome\":\"accepted\",\"offerId\":\"retain-10\",\"campaignId\":\"winback-q4\"}'\n", ivrURL)
	fmt.Fprintf(w, "  curl -s %s/v1/catalog/offers/retain-10\n", ivrURL)
	fmt.Fprintf(w, "  curl -s %s/v1/status\n", kioskURL)
	commands(
		"fleet ls",
		"fleet show kiosk-1 -o json",
		"contacts stats",
		"contacts query --customer C1",
		"customers show C1",
		"customers import "+filepath.Join(dir, "customers.csv")+" --id-column customerID",
	)
	fmt.Fprintln(w)
	fmt.Fprintln(w, e.msg(msgDemoInsight))
	fmt.Fprintln(w)
	commands(
		"segments run",
		"customers show C17",
		"propensities learn",
		"campaigns report grow-q4",
		"campaigns report grow-q4 --chart "+filepath.Join(dir, "grow-q4.png"),
	)
	fmt.Fprintln(w)
	fmt.Fprintln(w, e.msg(msgDemoLoad))
	fmt.Fprintln(w)
	commands(
		"load --agent "+kioskURL+" --connections 64 --duration 20s",
		"load --agent "+kioskURL+" --connections 1 --duration 20s",
	)
	fmt.Fprintln(w)
	fmt.Fprintln(w, e.msg(msgDemoStop))
}
