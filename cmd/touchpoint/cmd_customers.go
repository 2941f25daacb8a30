package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/protocol/api"
)

func customersCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "customers",
		Usage: "customer profiles: import, the 360° view, erasure",
		Subcommands: []*cli.Command{
			{
				Name:      "import",
				Usage:     "import profiles from CSV (header row) or JSON Lines; a re-imported id replaces the stored attributes (derived fields stay)",
				ArgsUsage: "FILE",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "id-column", Usage: "`NAME` of the customer id column (default id, then customerId or customerID)"},
					&cli.StringFlag{Name: "region-column", Usage: "`NAME` of the home region column (default region, when present)"},
					outputFlag(),
				},
				Action: func(c *cli.Context) error { return e.importCustomersFile(c) },
			},
			{
				Name:      "show",
				Usage:     "one customer's 360° view: profile, consents, derived fields, recent contacts (PII masked unless admin)",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{outputFlag()},
				Action: adminAction(e, 1, 1, "ID",
					func(c *cli.Context, a []string) (*api.CustomerView, error) {
						return client(c).Customer(c.Context, a[0])
					},
					func(v *api.CustomerView, _ []string) error { return e.printCustomer(v) }),
			},
			{
				Name:      "erase",
				Usage:     "erase a customer from the control plane and every agent; reports which connected agents confirmed, which did not yet, and which agents are not connected (they drop it when they reconnect)",
				ArgsUsage: "ID",
				Flags: []cli.Flag{
					&cli.DurationFlag{Name: "wait", Value: 30 * time.Second, Usage: "wait up to `DURATION` (0s or more) for connected agents to confirm"},
					outputFlag(),
				},
				Action: func(c *cli.Context) error { return e.eraseCustomer(c) },
			},
		},
	}
}

// The customer commands' user-facing strings, in English and Simplified
// Chinese (JSON output is never translated).
type custKey int

const (
	cmProgress custKey = iota
	cmHdrAttribute
	cmHdrValue
	cmRegion
	cmIndex
	cmDND
	cmConsents
	cmMasked
	cmMaskedYes
	cmNone
	cmDerived
	cmRecent
	cmNoContacts
	cmContactsHidden
	cmYes
	cmNo
	cmErased
	cmErasedOne
	cmConfirmed
	cmUnconfirmed
	cmAllConfirmed
	cmNoAgents
	cmOffline
	cmFleetUnread
	cmConfirmedOne
	cmUnconfirmedOne
	cmOfflineOne
)

var customerMessages = map[string]map[custKey]string{
	"en": {
		cmProgress:       "%d rows  %d committed  %.0f rows/s",
		cmHdrAttribute:   "ATTRIBUTE",
		cmHdrValue:       "VALUE",
		cmRegion:         "region",
		cmIndex:          "index",
		cmDND:            "do not disturb",
		cmConsents:       "consents",
		cmMasked:         "masked",
		cmMaskedYes:      "yes: personal data is shown to admins only",
		cmNone:           "(none)",
		cmDerived:        "derived fields",
		cmRecent:         "recent contacts (newest first):",
		cmNoContacts:     "no recent contacts",
		cmContactsHidden: "recent contacts not shown: this token's role may not read the contact ledger",
		cmYes:            "yes",
		cmNo:             "no",
		cmErased:         "erased customer %s (index %d); %d contact-ledger events no longer name it",
		cmErasedOne:      "erased customer %s (index %d); 1 contact-ledger event no longer names it",
		cmConfirmed:      "confirmed by %d connected agents: %s",
		cmUnconfirmed:    "NOT confirmed within %s by %d connected agents: %s (they still hold the profile until they catch up)",
		cmAllConfirmed:   "every connected agent has dropped the customer",
		cmNoAgents:       "no agents are connected",
		cmOffline:        "%d agents are not connected: %s; they drop the customer when they reconnect",
		cmFleetUnread:    "erased at index %d, but the fleet could not be read to confirm: %w",
		cmConfirmedOne:   "confirmed by %d connected agent: %s",
		cmUnconfirmedOne: "NOT confirmed within %s by %d connected agent: %s (it still holds the profile until it catches up)",
		cmOfflineOne:     "%d agent is not connected: %s; it drops the customer when it reconnects",
	},
	"zh": {
		cmProgress:       "%d 行  已提交 %d  %.0f 行/秒",
		cmHdrAttribute:   "属性",
		cmHdrValue:       "值",
		cmRegion:         "区域",
		cmIndex:          "索引",
		cmDND:            "免打扰",
		cmConsents:       "营销同意",
		cmMasked:         "已脱敏",
		cmMaskedYes:      "是：个人信息仅对管理员显示",
		cmNone:           "（无）",
		cmDerived:        "派生字段",
		cmRecent:         "最近接触（最新在前）：",
		cmNoContacts:     "没有最近接触",
		cmContactsHidden: "未显示最近接触：此令牌的角色无权读取接触记录",
		cmYes:            "是",
		cmNo:             "否",
		cmErased:         "已删除客户 %s（索引 %d）；%d 条接触台账事件已匿名化",
		cmErasedOne:      "已删除客户 %s（索引 %d）；1 条接触台账事件已匿名化",
		cmConfirmed:      "%d 个在线代理已确认：%s",
		cmUnconfirmed:    "%[2]d 个在线代理在 %[1]s 内未确认：%[3]s（追上进度前仍持有该档案）",
		cmAllConfirmed:   "所有在线代理均已删除该客户",
		cmNoAgents:       "没有在线代理",
		cmOffline:        "%d 个代理未连接：%s；重新连接后会删除该客户",
		cmFleetUnread:    "已在索引 %d 删除，但无法读取代理列表以确认：%w",
		cmConfirmedOne:   "%d 个在线代理已确认：%s",
		cmUnconfirmedOne: "%[2]d 个在线代理在 %[1]s 内未确认：%[3]s（追上进度前仍持有该档案）",
		cmOfflineOne:     "%d 个代理未连接：%s；重新连接后会删除该客户",
	},
}

func (e *env) cmsg(k custKey, args ...any) string { return translate(e, customerMessages, k, args...) }

// countingReader counts the bytes read through it, for the progress bar.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// isTerminal reports whether w is a character device (a terminal); the
// progress bar is drawn only there.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// drawProgress redraws a progress line on the terminal until the returned
// function is called.
func (e *env) drawProgress(prog *importProgress, cr *countingReader, size int64) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	draw := func() {
		read, committed := prog.Read.Load(), prog.Committed.Load()
		rate := float64(committed) / max(time.Since(start).Seconds(), 0.001)
		bar := ""
		if size > 0 {
			frac := min(float64(cr.n.Load())/float64(size), 1)
			const width = 30
			n := int(frac * width)
			bar = fmt.Sprintf("[%s%s] %3.0f%%  ", strings.Repeat("=", n), strings.Repeat(" ", width-n), frac*100)
		}
		fmt.Fprintf(e.stderr, "\r%s%s\033[K", bar, e.cmsg(cmProgress, read, committed, rate))
	}
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				draw()
				fmt.Fprintln(e.stderr)
				return
			case <-t.C:
				draw()
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

func formatValue(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

func (e *env) yesNo(b bool) string {
	if b {
		return e.cmsg(cmYes)
	}
	return e.cmsg(cmNo)
}

func (e *env) printCustomer(v *api.CustomerView) error {
	tw := e.table()
	region := v.Region
	if region == "" {
		region = e.cmsg(cmNone)
	}
	fmt.Fprintf(tw, "%s:\t%s\n", strings.ToLower(e.msg(msgHdrID)), v.ID)
	fmt.Fprintf(tw, "%s:\t%s\n", e.cmsg(cmRegion), region)
	fmt.Fprintf(tw, "%s:\t%d\n", e.cmsg(cmIndex), v.Index)
	fmt.Fprintf(tw, "%s:\t%s\n", e.cmsg(cmDND), e.yesNo(v.DoNotDisturb))
	consents := e.cmsg(cmNone)
	if len(v.Consents) > 0 {
		var parts []string
		for _, ch := range sortedKeys(v.Consents) {
			parts = append(parts, ch+"="+e.yesNo(v.Consents[ch]))
		}
		consents = strings.Join(parts, " ")
	}
	fmt.Fprintf(tw, "%s:\t%s\n", e.cmsg(cmConsents), consents)
	masked := e.cmsg(cmNo)
	if v.Masked {
		masked = e.cmsg(cmMaskedYes)
	}
	fmt.Fprintf(tw, "%s:\t%s\n", e.cmsg(cmMasked), masked)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout)
	tw = e.table()
	fmt.Fprintf(tw, "%s\t%s\n", e.cmsg(cmHdrAttribute), e.cmsg(cmHdrValue))
	for _, k := range sortedKeys(v.Attributes) {
		fmt.Fprintf(tw, "%s\t%s\n", k, formatValue(v.Attributes[k]))
	}
	for _, k := range sortedKeys(v.Derived) {
		fmt.Fprintf(tw, "%s (%s)\t%s\n", k, e.cmsg(cmDerived), formatValue(v.Derived[k]))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout)
	if v.ContactsHidden {
		fmt.Fprintln(e.stdout, e.cmsg(cmContactsHidden))
		return nil
	}
	if len(v.RecentContacts) == 0 {
		fmt.Fprintln(e.stdout, e.cmsg(cmNoContacts))
		return nil
	}
	fmt.Fprintln(e.stdout, e.cmsg(cmRecent))
	return e.printContacts(v.RecentContacts)
}

// eraseReport is what customers erase -o json prints. The erasure is
// complete on every agent only when Unconfirmed and NotConnected are both
// empty.
type eraseReport struct {
	ID          string   `json:"id"`
	Index       uint64   `json:"index"`
	Confirmed   []string `json:"confirmed"`
	Unconfirmed []string `json:"unconfirmed"`
	// NotConnected are the enrolled agents, not revoked, that are not
	// connected: they still hold the profile and drop it when they
	// reconnect.
	NotConnected []string `json:"notConnected"`
	anonymized   int
}

// fleetLister is the fleet read erase polls.
type fleetLister interface {
	FleetAgents(ctx context.Context) ([]api.FleetAgent, error)
}

// erasureStatus is where the fleet's agents stand on an erasure.
type erasureStatus struct {
	confirmed, unconfirmed, notConnected []string
}

// classifyErasure sorts the registry's agents, revoked ones left out:
// alive ones that reported applying index (confirmed) or not yet
// (unconfirmed), and the others (not connected).
func classifyErasure(agents []api.FleetAgent, index uint64) erasureStatus {
	st := erasureStatus{confirmed: []string{}, unconfirmed: []string{}, notConnected: []string{}}
	for _, a := range agents {
		switch {
		case a.Revoked:
		case a.Status != api.AgentAlive:
			st.notConnected = append(st.notConnected, a.ID)
		case a.AppliedIndex >= index:
			st.confirmed = append(st.confirmed, a.ID)
		default:
			st.unconfirmed = append(st.unconfirmed, a.ID)
		}
	}
	return st
}

// waitErasure polls the fleet until every agent with status alive has
// reported applying a configuration index at or past index (agents apply
// the change feed in order, so they have dropped the customer), or wait
// runs out. What a session has merely sent an agent does not count.
func waitErasure(ctx context.Context, fl fleetLister, index uint64, wait, every time.Duration) (erasureStatus, error) {
	deadline := time.Now().Add(wait)
	for {
		agents, err := fl.FleetAgents(ctx)
		if err != nil {
			return erasureStatus{}, err
		}
		st := classifyErasure(agents, index)
		if len(st.unconfirmed) == 0 || !time.Now().Before(deadline) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, nil
		case <-time.After(min(every, time.Until(deadline))):
		}
	}
}

func (e *env) eraseCustomer(c *cli.Context) error {
	out, err := format(c)
	if err != nil {
		return err
	}
	a, err := args(c, 1, 1, "ID [--wait 30s]")
	if err != nil {
		return err
	}
	wait := c.Duration("wait")
	if wait < 0 {
		// Checked before the erase: a refused flag erases nothing.
		return usageError(fmt.Errorf("--wait %s: must be 0s or more (0s checks once without waiting)", wait))
	}
	cl := client(c)
	res, err := cl.EraseCustomer(c.Context, a[0])
	if err != nil {
		return err
	}
	rep := eraseReport{ID: a[0], Index: res.Index, anonymized: res.AnonymizedEvents}
	st, err := waitErasure(c.Context, cl, res.Index, wait, 250*time.Millisecond)
	rep.Confirmed, rep.Unconfirmed, rep.NotConnected = st.confirmed, st.unconfirmed, st.notConnected
	if err != nil {
		return fmt.Errorf(e.cmsg(cmFleetUnread), res.Index, err)
	}
	if out == "json" {
		return e.printJSON(rep)
	}
	e.printErasure(rep, wait)
	return nil
}

// printErasure is customers erase's text output.
func (e *env) printErasure(rep eraseReport, wait time.Duration) {
	if rep.anonymized == 1 {
		fmt.Fprintln(e.stdout, e.cmsg(cmErasedOne, rep.ID, rep.Index))
	} else {
		fmt.Fprintln(e.stdout, e.cmsg(cmErased, rep.ID, rep.Index, rep.anonymized))
	}
	confirmed := func() {
		n := len(rep.Confirmed)
		fmt.Fprintln(e.stdout, e.cmsg(plural(n, cmConfirmedOne, cmConfirmed), n, strings.Join(rep.Confirmed, ", ")))
	}
	switch {
	case len(rep.Confirmed) == 0 && len(rep.Unconfirmed) == 0:
		fmt.Fprintln(e.stdout, e.cmsg(cmNoAgents))
	case len(rep.Unconfirmed) == 0:
		confirmed()
		fmt.Fprintln(e.stdout, e.cmsg(cmAllConfirmed))
	default:
		if len(rep.Confirmed) > 0 {
			confirmed()
		}
		n := len(rep.Unconfirmed)
		fmt.Fprintln(e.stdout, e.cmsg(plural(n, cmUnconfirmedOne, cmUnconfirmed), wait, n, strings.Join(rep.Unconfirmed, ", ")))
	}
	if n := len(rep.NotConnected); n > 0 {
		fmt.Fprintln(e.stdout, e.cmsg(plural(n, cmOfflineOne, cmOffline), n, strings.Join(rep.NotConnected, ", ")))
	}
}
