package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/protocol"
	"touchpoint.dev/touchpoint/protocol/api"
)

// maxContactsLimit is the most contacts GET /v1/contacts returns.
const maxContactsLimit = 100000

func contactsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "contacts",
		Usage: "the contact ledger: what agents logged and the cluster committed",
		Subcommands: []*cli.Command{
			{
				Name:  "stats",
				Usage: "events committed in total and per agent, with each agent's highest sequence",
				Flags: []cli.Flag{outputFlag()},
				Action: adminAction(e, 0, 0, "",
					func(c *cli.Context, _ []string) (*api.ContactStats, error) { return client(c).ContactStats(c.Context) },
					func(st *api.ContactStats, _ []string) error {
						fmt.Fprintln(e.stdout, e.msg(msgContactsTotal, st.Total))
						tw := e.table()
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.msg(msgHdrAgent), e.msg(msgHdrReceived), e.msg(msgHdrHighestSeq), e.msg(msgHdrLastEvent))
						for _, a := range st.Agents {
							fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", a.AgentID, a.Received, a.HighestSequence, a.LastEvent.Format(time.RFC3339))
						}
						return tw.Flush()
					}),
			},
			{
				Name:  "query",
				Usage: "a customer's contacts, oldest first",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "customer", Required: true, Usage: "customer `ID`"},
					&cli.StringFlag{Name: "since", Usage: "only contacts at or after `T`: an RFC 3339 time or a duration back from now (24h)"},
					&cli.IntFlag{Name: "limit", Value: 1000, Usage: fmt.Sprintf("at most `N` contacts, 1 to %d", maxContactsLimit)},
					outputFlag(),
				},
				Action: adminAction(e, 0, 0, "--customer ID [--since T]",
					func(c *cli.Context, _ []string) ([]protocol.ContactEvent, error) {
						limit, err := intFlag(c, "limit", 1, maxContactsLimit)
						if err != nil {
							return nil, err
						}
						return client(c).Contacts(c.Context, c.String("customer"), c.String("since"), limit)
					},
					func(evs []protocol.ContactEvent, _ []string) error {
						tw := e.table()
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.msg(msgHdrTime), e.msg(msgHdrAgent), e.msg(msgHdrChannel), e.msg(msgHdrType), e.msg(msgHdrOutcome), e.msg(msgHdrOffer), e.msg(msgHdrSeq))
						for _, ev := range evs {
							fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", ev.Time.Format(time.RFC3339), ev.AgentID, ev.Channel, ev.Type, ev.Outcome, ev.OfferID, ev.Seq)
						}
						return tw.Flush()
					}),
			},
		},
	}
}
