package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/protocol/api"
)

// maxAuditLimit is the most entries GET /v1/audit returns (docs/API.md).
const maxAuditLimit = 100000

func auditCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "show the audit log: who changed what, when, at which index",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "limit", Value: 50, Usage: fmt.Sprintf("show the newest `N` entries, 1 to %d", maxAuditLimit)},
			outputFlag(),
		},
		Action: adminAction(e, 0, 0, "",
			func(c *cli.Context, _ []string) ([]api.AuditEntry, error) {
				limit, err := intFlag(c, "limit", 1, maxAuditLimit)
				if err != nil {
					return nil, err
				}
				return client(c).Audit(c.Context, limit)
			},
			func(es []api.AuditEntry, _ []string) error {
				tw := e.table()
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.msg(msgHdrIndex), e.msg(msgHdrTime), e.msg(msgHdrActor), e.msg(msgHdrRole), e.msg(msgHdrAction), e.msg(msgHdrTarget), e.msg(msgHdrDetails))
				for _, a := range es {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Index, a.Time.Format(time.RFC3339), a.Actor, a.Role, a.Action, a.Target, a.Details)
				}
				return tw.Flush()
			}),
	}
}
