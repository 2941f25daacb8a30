package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/protocol/api"
)

func fleetCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "fleet",
		Usage: "enroll and revoke agents",
		Subcommands: []*cli.Command{
			{
				Name:  "token",
				Usage: "mint a short-lived join token an agent presents once to enroll",
				Flags: []cli.Flag{
					&cli.DurationFlag{Name: "ttl", Value: time.Hour, Usage: "how long the token is valid"},
					&cli.IntFlag{Name: "uses", Value: 1, Usage: "how many agents may enroll with it"},
					outputFlag(),
				},
				Action: func(c *cli.Context) error {
					out, err := format(c)
					if err != nil {
						return err
					}
					if _, err := args(c, 0, 0, "[--ttl 1h] [--uses 1]"); err != nil {
						return err
					}
					t, err := client(c).JoinToken(c.Context, api.JoinTokenRequest{TTL: c.Duration("ttl").String(), Uses: c.Int("uses")})
					if err != nil {
						return err
					}
					if out == "json" {
						return e.printJSON(t)
					}
					fmt.Fprintln(e.stdout, e.msg(msgJoinToken, t.ID, t.Uses, t.Expires.Format(time.RFC3339)))
					fmt.Fprintln(e.stdout, e.msg(msgTokenShownOnce))
					fmt.Fprintln(e.stdout, t.Token)
					return nil
				},
			},
			{
				Name:      "revoke",
				Usage:     "cut an agent off: it is refused from now on",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{outputFlag()},
				Action: func(c *cli.Context) error {
					out, err := format(c)
					if err != nil {
						return err
					}
					a, err := args(c, 1, 1, "ID")
					if err != nil {
						return err
					}
					res, err := client(c).Revoke(c.Context, a[0])
					if err != nil {
						return err
					}
					if out == "json" {
						return e.printJSON(res)
					}
					fmt.Fprintln(e.stdout, e.msg(msgRevoked, a[0], res.Index))
					return nil
				},
			},
		},
	}
}
