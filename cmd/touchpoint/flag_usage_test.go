package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A flag value a daemon refuses is a usage error, as every other command's
// is ("error: usage: --FLAG VALUE: …"), and the daemon stops before it
// touches its data directory.
func TestDaemons_BadFlagValuesAreUsageErrors(t *testing.T) {
	t.Setenv("TOUCHPOINT_LANG", "en")
	dir := filepath.Join(t.TempDir(), "d")
	// agentLine is an agent's first command line with one flag replaced.
	agentLine := func(flag, value string) string {
		line := "touchpoint agent --data-dir " + dir
		for _, f := range [][2]string{{"--id", "k1"}, {"--site", "s1"}, {"--channel", "kiosk"}, {"--http-addr", "127.0.0.1:0"}, {flag, value}} {
			if f[0] != flag || f[1] == value {
				line += " " + f[0] + " " + f[1]
			}
		}
		return line
	}
	cases := map[string]string{
		"touchpoint controlplane --data-dir " + dir + " --id n1 --log-level verbose": `error: usage: --log-level "verbose": use debug, info, warn or error`,
		"touchpoint controlplane --data-dir " + dir + " --id n1 --log-format xml":    `error: usage: --log-format "xml": use text or json`,
		agentLine("--log-level", "loud"):                                             `error: usage: --log-level "loud": use debug, info, warn or error`,
		agentLine("--channel", "bogus"):                                              `error: usage: --channel "bogus": use one of kiosk, ivr, terminal`,
		agentLine("--id", "a/b"):                                                     `error: usage: --id "a/b": use 1 to 128 letters, digits, '-', '_' or '.'`,
		agentLine("--region", "a/b"):                                                 `error: usage: --region "a/b": use 1 to 128 letters`,
		agentLine("--outbox-max-bytes", "-1"):                                        `error: usage: --outbox-max-bytes "-1": a bound cannot be negative`,
		agentLine("--timezone", "Mars/Olympus"):                                      `error: usage: --timezone "Mars/Olympus": unknown time zone "Mars/Olympus"`,
		agentLine("--http-addr", "nohost"):                                           `error: usage: --http-addr "nohost": address nohost: missing port in address`,
		agentLine("--gossip-addr", "nohost"):                                         `error: usage: --gossip-addr "nohost": address nohost: missing port in address`,
		agentLine("--controlplane", "127.0.0.1:7501,nohost"):                         `error: usage: --controlplane "nohost": address nohost: missing port in address`,
		agentLine("--gossip-join", "nohost"):                                         `error: usage: --gossip-join "nohost": address nohost: missing port in address`,
	}
	for line, want := range cases {
		var out, errb bytes.Buffer
		code := run(context.Background(), strings.Fields(line), &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), want) {
			t.Errorf("%s: exit %d, stderr %q; want non-zero and %q", line, code, errb.String(), want)
		}
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("a refused flag left %s behind", dir)
	}
}
