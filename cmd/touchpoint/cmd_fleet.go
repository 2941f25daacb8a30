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
				Action: adminAction(e, 0, 0, "[--ttl 1h] [--uses 1]",
					func(c *cli.Context, _ []string) (*api.JoinTokenResult, error) {
						return client(c).JoinToken(c.Context, api.JoinTokenRequest{TTL: c.Duration("ttl").String(), Uses: c.Int("uses")})
					},
					func(t *api.JoinTokenResult, _ []string) error {
						fmt.Fprintln(e.stdout, e.msg(msgJoinToken, t.ID, t.Uses, t.Expires.Format(time.RFC3339)))
						fmt.Fprintln(e.stdout, e.msg(msgTokenShownOnce))
						fmt.Fprintln(e.stdout, t.Token)
						return nil
					}),
			},
			{
				Name:      "revoke",
				Usage:     "cut an agent off: it is refused from now on",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{outputFlag()},
				Action: adminAction(e, 1, 1, "ID",
					func(c *cli.Context, a []string) (*api.WriteResult, error) { return client(c).Revoke(c.Context, a[0]) },
					func(res *api.WriteResult, a []string) error {
						fmt.Fprintln(e.stdout, e.msg(msgRevoked, a[0], res.Index))
						return nil
					}),
			},
		},
	}
}
