package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"syscall"
	"testing"

	"touchpoint.dev/touchpoint/protocol/api"
)

// However an error is wrapped, its code comes first, once.
func TestPrintError_CodeFirstOnce(t *testing.T) {
	_, statErr := os.Stat("/nonexistent/x")
	cases := []struct {
		err  error
		want string
	}{
		{usageError(errors.New("touchpoint get KIND [ID]")), "error: usage: touchpoint get KIND [ID]\n"},
		{fmt.Errorf("import: %w", usageError(errors.New("bad"))), "error: usage: import: bad\n"},
		{fmt.Errorf("apply: %w", &api.Error{Code: api.CodeNotFound, Message: "no such offer"}), "error: not_found: no such offer\n"},
		{fmt.Errorf("read: %w", statErr), "error: file_error: read: stat /nonexistent/x: no such file or directory\n"},
		{&url.Error{Op: "Get", URL: "http://x", Err: errors.New("refused")}, "error: unreachable: Get \"http://x\": refused\n"},
		{&api.RequestError{Method: "GET", URL: "http://x/v1/a", Err: &url.Error{Op: "Get", URL: "http://x/v1/a", Err: errors.New("refused")}},
			"error: unreachable: GET http://x/v1/a: refused\n"},
		{&api.AddrError{Addr: "ftp://x", Err: errors.New(`scheme "ftp": use http:// or https://`)},
			"error: usage: admin API address \"ftp://x\": scheme \"ftp\": use http:// or https://\n"},
		{fmt.Errorf("wait: %w", context.DeadlineExceeded), "error: timeout: wait: context deadline exceeded\n"},
		{errors.New("the header has no column"), "error: invalid_input: the header has no column\n"},
		// A full disk under a node's raft log is no input's fault.
		{fmt.Errorf("open raft log: %w", syscall.ENOSPC), "error: file_error: open raft log: no space left on device\n"},
	}
	for _, tc := range cases {
		var b bytes.Buffer
		(&env{stderr: &b, lang: "en"}).printError(tc.err)
		if b.String() != tc.want {
			t.Errorf("%v: printed %q, want %q", tc.err, b.String(), tc.want)
		}
	}
}
