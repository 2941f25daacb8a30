package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

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
			&cli.DurationFlag{Name: "for", Usage: "stop after this long (default: run until Ctrl-C)"},
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
			httpAddr := c.String("http-addr")
			if ln, err := net.Listen("tcp", httpAddr); err != nil {
				httpAddr = "127.0.0.1:0"
			} else {
				ln.Close()
			}
			srv, err := controlplane.New(controlplane.Config{
				ID: "demo-1", DataDir: filepath.Join(dir, "controlplane"),
				RaftAddr: "127.0.0.1:0", HTTPAddr: httpAddr,
				Bootstrap: true, Version: version, Logger: log,
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
			e.printDemo(srv.URL(), token, dir, catalogFile)
			err = <-done
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				err = nil
			}
			return err
		},
	}
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

func (e *env) printDemo(url, token, dir, catalogFile string) {
	tp := selfCommand()
	w := e.stdout
	fmt.Fprintln(w, e.msg(msgDemoReady, url))
	fmt.Fprintln(w, e.msg(msgDemoData, dir))
	fmt.Fprintln(w)
	fmt.Fprintln(w, e.msg(msgDemoTry))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  export TOUCHPOINT_ADDR=%s\n", url)
	fmt.Fprintf(w, "  export TOUCHPOINT_TOKEN=%s\n", token)
	for _, cmd := range []string{
		"cluster status",
		"get offers",
		"get offers retain-10 -o json",
		"get campaigns",
		"get policies -o json",
		"apply -f " + catalogFile,
		"tokens create --role analyst --name marketing",
		"audit",
	} {
		fmt.Fprintf(w, "  %s %s\n", tp, cmd)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, e.msg(msgDemoStop))
}
