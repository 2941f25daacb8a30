package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"touchpoint.dev/touchpoint/protocol/api"
)

// Codes of the errors the CLI finds itself, before or instead of an API
// answer. Like the API's codes (protocol/api), they are printed first
// ("error: usage: …") for scripts to match, and they are only ever added,
// never renamed.
const (
	codeUsage        = "usage"                 // wrong arguments or flags
	codeInvalidInput = "invalid_input"         // a local file or value the command cannot use
	codeFileError    = "file_error"            // a local file cannot be read or written
	codeUnreachable  = "unreachable"           // the API could not be reached (connection, TLS)
	codeTimeout      = string(api.CodeTimeout) // a wait or deadline ran out (the API's own code)
	codeInterrupted  = "interrupted"           // the command was cancelled (Ctrl-C, SIGTERM)
	codeRemoved      = "removed"               // a control plane node the cluster removed was started
)

// cliError is an error the CLI raises itself, with its stable code.
type cliError struct {
	code string
	err  error
}

// Error is the message alone: printError puts the code in front.
func (e *cliError) Error() string { return e.err.Error() }
func (e *cliError) Unwrap() error { return e.err }

// usageError is a usage error: wrong arguments, a bad flag value.
func usageError(err error) error { return &cliError{code: codeUsage, err: err} }

// errorCode is the stable code printed with err. API errors carry their
// own; the CLI's own are classified by what went wrong.
func errorCode(err error) string {
	var ae *api.Error
	var ce *cliError
	var ue *url.Error
	var pe *fs.PathError
	var adr *api.AddrError
	switch {
	case errors.As(err, &ae):
		return string(ae.Code)
	case errors.As(err, &adr):
		return codeUsage // --addr or TOUCHPOINT_ADDR
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, context.Canceled):
		return codeInterrupted
	case errors.Is(err, context.DeadlineExceeded):
		return codeTimeout
	case errors.As(err, &ue):
		return codeUnreachable
	case errors.As(err, &pe), errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EDQUOT):
		// A file that cannot be read or written: also a full or read-only
		// disk under a node's or agent's stores, which is no input's fault.
		return codeFileError
	case strings.HasPrefix(err.Error(), "Required flag"), strings.HasPrefix(err.Error(), "No help topic for"):
		// urfave/cli's missing-flag and unknown-command errors have no
		// exported type.
		return codeUsage
	}
	return codeInvalidInput
}

// cliText rewrites urfave/cli's own messages for a missing flag or an
// unknown command in the CLI's words; any other message is returned as it
// is.
func cliText(msg string) string {
	if rest, ok := strings.CutPrefix(msg, "No help topic for '"); ok {
		return fmt.Sprintf("unknown command %q: 'touchpoint --help' lists the commands", strings.TrimSuffix(rest, "'"))
	}
	for _, form := range []struct{ prefix, text string }{
		{`Required flag "`, "required flag %s not given"},
		{`Required flags "`, "required flags %s not given"},
	} {
		if rest, ok := strings.CutPrefix(msg, form.prefix); ok {
			if names, ok := strings.CutSuffix(rest, `" not set`); ok {
				flags := strings.Split(names, ", ")
				for i, f := range flags {
					flags[i] = "--" + f
				}
				return fmt.Sprintf(form.text, strings.Join(flags, ", "))
			}
		}
	}
	return msg
}

// onUsageError codes the flag-parsing errors urfave/cli reports (a value
// that does not parse, an unknown flag); cli has printed the command's
// help already.
func onUsageError(_ *cli.Context, err error, _ bool) error { return usageError(err) }

// codeUsageErrors sets onUsageError on every command that has no handler
// of its own.
func codeUsageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		if c.OnUsageError == nil {
			c.OnUsageError = onUsageError
		}
		codeUsageErrors(c.Subcommands)
	}
}
