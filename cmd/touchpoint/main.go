// Command touchpoint is Touchpoint's one binary: the control-plane daemon
// (`touchpoint controlplane`), the demo, and the administrators' commands.
// Admin commands reach the control plane only through protocol/api.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // quiet hours resolve time zones even in FROM-scratch images

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/protocol/api"
)

// version is set by the build (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env is what every command needs: where to write and in which language.
type env struct {
	stdout io.Writer
	stderr io.Writer
	lang   string
}

// run builds the app, reorders flags that follow positionals, and runs it.
// Errors go to stderr and make the exit status non-zero.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, lang: language()}
	app := newApp(e)
	app.Setup()
	app.OnUsageError = onUsageError
	codeUsageErrors(app.Commands)
	if err := app.RunContext(ctx, reorderArgs(app, args)); err != nil {
		e.printError(err)
		return 1
	}
	return 0
}

// printError prints err with its stable code (errorCode) first.
func (e *env) printError(err error) {
	var ae *api.Error
	if errors.As(err, &ae) {
		// The server's message, without the client's context.
		fmt.Fprintf(e.stderr, "%s: %s\n", e.msg(msgError), ae.Error())
		return
	}
	var ee cli.ExitCoder
	if errors.As(err, &ee) && ee.Error() == "" {
		return
	}
	fmt.Fprintf(e.stderr, "%s: %s: %s\n", e.msg(msgError), errorCode(err), cliText(err.Error()))
}

func newApp(e *env) *cli.App {
	return &cli.App{
		Name:    "touchpoint",
		Usage:   "edge customer engagement for telecom operators",
		Version: version,
		Writer:  e.stdout, ErrWriter: e.stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "http://127.0.0.1:7400", EnvVars: []string{"TOUCHPOINT_ADDR"}, Usage: "control-plane admin API `URL`; several members' URLs, comma-separated, to go on to the next when one does not answer"},
			&cli.StringFlag{Name: "token", EnvVars: []string{"TOUCHPOINT_TOKEN"}, Usage: "bearer `TOKEN` for the admin API"},
			&cli.StringFlag{Name: "ca-cert", EnvVars: []string{"TOUCHPOINT_CA_CERT"}, Usage: "PEM `FILE` of the CA (or self-signed certificate) the admin API's HTTPS certificate is checked against"},
			pprofFlag(),
		},
		Before: func(c *cli.Context) error {
			if _, err := caPool(c.String("ca-cert")); err != nil {
				return err // before any command asks the API
			}
			if a := c.String("pprof-addr"); a != "" {
				return startPprof(a)
			}
			return nil
		},
		Commands: []*cli.Command{
			controlplaneCommand(e),
			agentCommand(e),
			demoCommand(e),
			applyCommand(e),
			getCommand(e),
			deleteCommand(e),
			clusterCommand(e),
			tokensCommand(e),
			auditCommand(e),
			contactsCommand(e),
			fleetCommand(e),
			customersCommand(e),
			loadCommand(e),
			ceilingServerCommand(e),
			modelsCommand(e),
			churnCommand(e),
			clvCommand(e),
			segmentsCommand(e),
			propensitiesCommand(e),
			campaignsCommand(e),
		},
		HideHelpCommand:      false,
		EnableBashCompletion: true,
		ExitErrHandler:       func(*cli.Context, error) {},
	}
}

// outputFlag is -o on every admin command.
func outputFlag() cli.Flag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "output `FORMAT`: table or json"}
}

// client builds the admin API client from the global flags. A bad
// --ca-cert is reported by the first request.
func client(c *cli.Context) *api.Client {
	return api.NewClient(c.String("addr"), c.String("token"), httpClient(c))
}

func httpClient(c *cli.Context) *http.Client {
	hc := &http.Client{Timeout: 60 * time.Second}
	pool, err := caPool(c.String("ca-cert"))
	switch {
	case err != nil:
		hc.Transport = errTransport{err} // the app's Before has refused it already
	case pool != nil:
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	return hc
}

// caPool reads --ca-cert (nil, nil when it is not given): a file that cannot
// be read is a file_error, one without a PEM certificate an invalid_input.
func caPool(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, &cliError{code: codeFileError, err: fmt.Errorf("--ca-cert: %w", err)}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, &cliError{code: codeInvalidInput, err: fmt.Errorf("--ca-cert %s: no PEM certificate in the file", file)}
	}
	return pool, nil
}

type errTransport struct{ err error }

func (t errTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, t.err }

// format checks -o and returns it.
func format(c *cli.Context) (string, error) {
	switch o := c.String("output"); o {
	case "table", "json":
		return o, nil
	default:
		return "", usageError(fmt.Errorf("-o %q: use table or json", o))
	}
}

// intFlag returns int flag name (its default when not given), or a usage
// error naming the flag and its range when the value is outside lo to hi.
func intFlag(c *cli.Context, name string, lo, hi int) (int, error) {
	n := c.Int(name)
	if n < lo || n > hi {
		return 0, usageError(fmt.Errorf("--%s %d: must be between %d and %d", name, n, lo, hi))
	}
	return n, nil
}

func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // rules hold ">=": print them as written
	return enc.Encode(v)
}

// table is where a command writes a table: tab-separated cells, one line
// per row, then Flush. Columns line up by display width (tableWriter).
func (e *env) table() *tableWriter {
	return newTableWriter(e.stdout)
}

// args returns exactly n positional arguments or a usage error.
func args(c *cli.Context, min, max int, usage string) ([]string, error) {
	a := c.Args().Slice()
	if len(a) < min || len(a) > max {
		return nil, usageError(fmt.Errorf("touchpoint %s %s", commandPath(c), usage))
	}
	return a, nil
}

// commandPath is the full command name ("cluster snapshot save").
func commandPath(c *cli.Context) string {
	var names []string
	for _, l := range c.Lineage() {
		if l.Command != nil && l.Command.Name != "" && l.Command.Name != c.App.Name {
			names = append([]string{l.Command.Name}, names...)
		}
	}
	return strings.Join(names, " ")
}

// adminAction is the shape every admin command shares: check -o and the
// positional arguments, call the API, print the answer as JSON (exactly as
// the API returned it) or as text for people.
func adminAction[T any](e *env, min, max int, usage string, call func(c *cli.Context, args []string) (T, error), text func(res T, args []string) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		out, err := format(c)
		if err != nil {
			return err
		}
		a, err := args(c, min, max, usage)
		if err != nil {
			return err
		}
		res, err := call(c, a)
		if err != nil {
			return err
		}
		if out == "json" {
			return e.printJSON(res)
		}
		return text(res, a)
	}
}
