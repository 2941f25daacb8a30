package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/protocol/api"
)

// maxJoinTokenUses is the most enrollments one join token allows
// (POST /v1/fleet/tokens, docs/API.md).
const maxJoinTokenUses = 100000

func fleetCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "fleet",
		Usage: "enroll and revoke agents",
		Subcommands: []*cli.Command{
			{
				Name:  "ls",
				Usage: "every enrolled agent with its live state (gossip and sessions)",
				Flags: []cli.Flag{outputFlag()},
				Action: adminAction(e, 0, 0, "",
					func(c *cli.Context, _ []string) ([]api.FleetAgent, error) { return client(c).FleetAgents(c.Context) },
					func(as []api.FleetAgent, _ []string) error {
						if len(as) == 0 {
							fmt.Fprintln(e.stdout, e.msg(msgNoAgents))
							return nil
						}
						return e.fleetTable(as)
					}),
			},
			{
				Name:      "show",
				Usage:     "one enrolled agent with its live state",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{outputFlag()},
				Action: adminAction(e, 1, 1, "ID",
					func(c *cli.Context, a []string) (*api.FleetAgent, error) {
						return client(c).FleetAgent(c.Context, a[0])
					},
					func(ag *api.FleetAgent, _ []string) error { return e.fleetDetail(ag) }),
			},
			{
				Name:  "rotate-gossip-key",
				Usage: "put a fresh gossip encryption key in front of the keyring; nodes and agents switch within seconds",
				Flags: []cli.Flag{outputFlag()},
				Action: adminAction(e, 0, 0, "",
					func(c *cli.Context, _ []string) (*api.WriteResult, error) {
						return client(c).RotateGossipKey(c.Context)
					},
					func(res *api.WriteResult, _ []string) error {
						fmt.Fprintln(e.stdout, e.msg(msgGossipRotated, res.Index))
						return nil
					}),
			},
			{
				Name:  "token",
				Usage: "mint a short-lived join token an agent presents once to enroll",
				Flags: []cli.Flag{
					&cli.DurationFlag{Name: "ttl", Value: time.Hour, Usage: "the token is valid for `DURATION`"},
					&cli.IntFlag{Name: "uses", Value: 1, Usage: fmt.Sprintf("`N` agents may enroll with it, 1 to %d", maxJoinTokenUses)},
					outputFlag(),
				},
				Action: adminAction(e, 0, 0, "[--ttl 1h] [--uses 1]",
					func(c *cli.Context, _ []string) (*api.JoinTokenResult, error) {
						uses, err := intFlag(c, "uses", 1, maxJoinTokenUses)
						if err != nil {
							return nil, err
						}
						return client(c).JoinToken(c.Context, api.JoinTokenRequest{TTL: c.Duration("ttl").String(), Uses: uses})
					},
					func(t *api.JoinTokenResult, _ []string) error {
						fmt.Fprintln(e.stdout, e.msg(plural(t.Uses, msgJoinTokenOne, msgJoinToken), t.ID, t.Uses, t.Expires.Format(time.RFC3339)))
						fmt.Fprintln(e.stdout, e.msg(msgTokenShownOnce))
						fmt.Fprintln(e.stdout, t.Token)
						return nil
					}),
			},
			{
				Name:  "revoke",
				Usage: "cut an agent off: it is refused from now on (refused while its outbox may hold unsent contacts, unless --force)",
				Description: "A revoked agent's outbox is never delivered: the contacts still in it are lost, though the agent answered 202 for each.\n" +
					"So revoke refuses (conflict) while the agent reports unsent contacts, or is not connected and its backlog is unknown:\n" +
					"reconnect it and let its outbox drain (fleet show ID: OUTBOX 0 while alive), then revoke; or pass --force to accept losing them.\n" +
					"Revoking a revoked agent writes nothing and says when it was revoked.",
				ArgsUsage: "ID",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "force", Usage: "revoke even if contact events in the agent's outbox (reported, or unknown while it is not connected) are lost"},
					outputFlag(),
				},
				Action: adminAction(e, 1, 1, "[--force] ID",
					func(c *cli.Context, a []string) (*api.RevokeResult, error) {
						return client(c).RevokeAgent(c.Context, api.RevokeRequest{ID: a[0], Force: c.Bool("force")})
					},
					func(res *api.RevokeResult, a []string) error {
						e.printRevoke(res, a[0])
						return nil
					}),
			},
		},
	}
}

// printRevoke is fleet revoke's text output.
func (e *env) printRevoke(res *api.RevokeResult, id string) {
	if res.AlreadyRevoked {
		fmt.Fprintln(e.stdout, e.fmsg(fmAlreadyRevoked, id, res.RevokedAt.Format(time.RFC3339)))
		return
	}
	fmt.Fprintln(e.stdout, e.msg(msgRevoked, id, res.Index))
	switch {
	case res.BacklogUnknown:
		fmt.Fprintln(e.stdout, e.fmsg(fmLostUnknown, res.LostBacklog))
	case res.LostBacklog == 1:
		fmt.Fprintln(e.stdout, e.fmsg(fmLostOne, res.LostBacklog))
	case res.LostBacklog > 1:
		fmt.Fprintln(e.stdout, e.fmsg(fmLost, res.LostBacklog))
	}
}

// fleetDetail is fleet show's view of one agent: every field, one per
// line, where fleet ls has a row of the most used ones.
func (e *env) fleetDetail(a *api.FleetAgent) error {
	seen := "-"
	if !a.LastSeen.IsZero() {
		seen = a.LastSeen.Format(time.RFC3339)
	}
	session := a.Session
	if session == "" {
		session = e.msg(msgNoSession)
	}
	status := a.Status
	if a.DiskLow {
		status += " (" + e.msg(msgAgentDiskLow) + ")"
	}
	revoked := e.msg(msgNo)
	switch {
	case a.Revoked && !a.RevokedAt.IsZero():
		revoked = e.fmsg(fmRevokedAt, a.RevokedAt.Format(time.RFC3339))
	case a.Revoked:
		revoked = e.msg(msgYes)
	}
	// The backlog of an agent that is not connected is its last report:
	// it may have grown since (fleet revoke counts it unknown).
	config, lag, backlog := liveFigures(*a)
	applied := fmt.Sprint(a.AppliedIndex)
	if neverSeen(*a) {
		applied = "-"
	} else if a.Status != api.AgentAlive {
		backlog = e.fmsg(fmBacklogStale, a.OutboxBacklog)
	}
	tw := e.table()
	for _, row := range [][2]string{
		{e.msg(msgHdrID), a.ID},
		{e.msg(msgHdrSite), a.Site},
		{e.msg(msgHdrChannel), a.Channel},
		{e.msg(msgHdrStatus), status},
		{e.msg(msgHdrSession), session},
		{e.msg(msgHdrConfigIndex), config},
		{e.msg(msgHdrAppliedIndex), applied},
		{e.msg(msgHdrLag), lag},
		{e.msg(msgHdrBacklog), backlog},
		{e.msg(msgHdrVersion), a.Version},
		{e.msg(msgHdrLastSeen), seen},
		{e.msg(msgHdrGossipAddr), a.GossipAddr},
		{e.msg(msgHdrCertSerial), a.CertSerial},
		{e.msg(msgHdrEnrolled), a.Enrolled.Format(time.RFC3339)},
		{e.msg(msgHdrRevoked), revoked},
	} {
		fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
	}
	return tw.Flush()
}

// neverSeen: the node has no live state of the agent (no session, never
// in gossip since the node started).
func neverSeen(a api.FleetAgent) bool {
	return a.LastSeen.IsZero() && a.Session == "" && a.Status != api.AgentAlive
}

// liveFigures are an agent's configuration index, lag and outbox backlog
// for a table: "-" when the node has no live state of it (never seen
// since it started), whose zeros mean unknown, not up to date.
func liveFigures(a api.FleetAgent) (config, lag, backlog string) {
	if neverSeen(a) {
		return "-", "-", "-"
	}
	return fmt.Sprint(a.ConfigIndex), fmt.Sprint(a.Lag), fmt.Sprint(a.OutboxBacklog)
}

func (e *env) fleetTable(as []api.FleetAgent) error {
	tw := e.table()
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.msg(msgHdrID), e.msg(msgHdrSite), e.msg(msgHdrChannel), e.msg(msgHdrStatus),
		e.msg(msgHdrConfigIndex), e.msg(msgHdrLag), e.msg(msgHdrBacklog), e.msg(msgHdrVersion), e.msg(msgHdrLastSeen))
	for _, a := range as {
		status := a.Status
		if a.Revoked {
			status += " (" + e.msg(msgRevokedYes) + ")"
		}
		if a.DiskLow {
			status += " (" + e.msg(msgAgentDiskLow) + ")"
		}
		seen := "-"
		if !a.LastSeen.IsZero() {
			seen = a.LastSeen.Format(time.RFC3339)
		}
		config, lag, backlog := liveFigures(a)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Site, a.Channel, status, config, lag, backlog, orDash(a.Version), seen)
	}
	return tw.Flush()
}
