package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Every command line the issues pin, as an integrator would type it, and
// what urfave/cli must see after reordering.
func TestReorderArgs_PinnedCommandLines(t *testing.T) {
	app := newApp(&env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, lang: "en"})
	app.Setup()
	cases := []struct {
		in, want string
	}{
		{"touchpoint get offers retain-10 -o json", "touchpoint get -o json -- offers retain-10"},
		{"touchpoint get -o json offers retain-10", "touchpoint get -o json -- offers retain-10"},
		{"touchpoint get offers --stale", "touchpoint get --stale -- offers"},
		{"touchpoint get offers retain-10 --stale -o=json", "touchpoint get --stale -o=json -- offers retain-10"},
		{"touchpoint apply -f catalog.yaml", "touchpoint apply -f catalog.yaml"},
		{"touchpoint apply -f a.yaml -f b.yaml -o json", "touchpoint apply -f a.yaml -f b.yaml -o json"},
		{"touchpoint delete offers retain-10", "touchpoint delete -- offers retain-10"},
		{"touchpoint cluster status -o json", "touchpoint cluster status -o json"},
		{"touchpoint cluster remove n3", "touchpoint cluster remove -- n3"},
		{"touchpoint cluster remove n3 -o json", "touchpoint cluster remove -o json -- n3"},
		{"touchpoint cluster snapshot save backup.snap", "touchpoint cluster snapshot save -- backup.snap"},
		{"touchpoint cluster snapshot restore backup.snap -o json", "touchpoint cluster snapshot restore -o json -- backup.snap"},
		{"touchpoint tokens create --role analyst -o json", "touchpoint tokens create --role analyst -o json"},
		{"touchpoint audit", "touchpoint audit"},
		{"touchpoint contacts stats -o json", "touchpoint contacts stats -o json"},
		{"touchpoint fleet token --ttl 1h --uses 1 -o json", "touchpoint fleet token --ttl 1h --uses 1 -o json"},
		{"touchpoint fleet revoke kiosk-1 -o json", "touchpoint fleet revoke -o json -- kiosk-1"},
		{"touchpoint contacts query --customer C1 --since 24h", "touchpoint contacts query --customer C1 --since 24h"},
		{"touchpoint audit --limit 5 -o json", "touchpoint audit --limit 5 -o json"},
		// --help belongs to the deepest command named.
		{"touchpoint segments run --help", "touchpoint segments run --help"},
		{"touchpoint contacts query -h", "touchpoint contacts query -h"},
		{"touchpoint get offers --help", "touchpoint get --help -- offers"},
		// Global flags before the command, and after it.
		{"touchpoint --addr http://h:1 --token T get offers", "touchpoint --addr http://h:1 --token T get -- offers"},
		{"touchpoint get offers --addr http://h:1 -o json", "touchpoint --addr http://h:1 get -o json -- offers"},
		// The daemon's own --token stays with the daemon.
		{"touchpoint controlplane --id n1 --data-dir /d --raft-addr 127.0.0.1:7000 --http-addr 127.0.0.1:7400 --bootstrap",
			"touchpoint controlplane --id n1 --data-dir /d --raft-addr 127.0.0.1:7000 --http-addr 127.0.0.1:7400 --bootstrap"},
		{"touchpoint controlplane --id n2 --data-dir /d --raft-addr 127.0.0.1:7001 --http-addr 127.0.0.1:7401 --join http://127.0.0.1:7400 --token T",
			"touchpoint controlplane --id n2 --data-dir /d --raft-addr 127.0.0.1:7001 --http-addr 127.0.0.1:7401 --join http://127.0.0.1:7400 --token T"},
		// "--" ends flag parsing: a positional may start with "-".
		{"touchpoint get offers -- -odd-id -o", "touchpoint get -- offers -odd-id -o"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got := reorderArgs(app, strings.Fields(tc.in))
			if !slices.Equal(got, strings.Fields(tc.want)) {
				t.Errorf("reorderArgs(%q)\n got %q\nwant %q", tc.in, strings.Join(got, " "), tc.want)
			}
		})
	}
}

// The reordered lines must also parse: run them against an unreachable
// address and check the error is the connection, not a usage problem.
func TestRun_FlagsAfterPositionalsParse(t *testing.T) {
	for _, line := range []string{
		"touchpoint get offers retain-10 -o json --addr http://127.0.0.1:1",
		"touchpoint delete offers x -o json --addr http://127.0.0.1:1",
		"touchpoint cluster remove n3 -o json --addr http://127.0.0.1:1",
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), strings.Fields(line), &out, &errb)
		if code == 0 {
			t.Fatalf("%s: succeeded against a closed port", line)
		}
		if !strings.HasPrefix(errb.String(), "error: unreachable: ") || !strings.Contains(errb.String(), "connection refused") {
			t.Errorf("%s: want a connection error, got %q", line, errb.String())
		}
		if n := strings.Count(errb.String(), "http://127.0.0.1:1/"); n != 1 {
			t.Errorf("%s: the request is named %d times, want once: %q", line, n, errb.String())
		}
	}
}

// Errors the CLI finds itself carry a stable code, as the API's do:
// "error: <code>: <message>", for scripts to match on the code.
func TestRun_LocalErrorsHaveStableCodes(t *testing.T) {
	badCSV := filepath.Join(t.TempDir(), "c.csv")
	if err := os.WriteFile(badCSV, []byte("id,name\nC1,x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := t.TempDir() // a node directory with no node.json yet
	cases := map[string]string{
		"touchpoint controlplane --data-dir " + fresh + " --id n1": "error: usage: required flags --raft-addr, --http-addr not given (" + fresh + " holds no node.json",
		"touchpoint get":                                                    "error: usage: touchpoint get KIND [ID]",
		"touchpoint get offers -o yaml":                                     `error: usage: -o "yaml"`,
		"touchpoint apply":                                                  `error: usage: required flag --filename not given`,
		"touchpoint customers erase C1 --wait banana":                       `error: usage: invalid value "banana" for flag -wait`,
		"touchpoint frobnicate":                                             `error: usage: unknown command "frobnicate": 'touchpoint --help' lists the commands`,
		"touchpoint controlplane --id n1":                                   "error: usage: required flag --data-dir not given",
		"touchpoint get widgets":                                            `error: unknown_kind: unknown kind "widgets"`,
		"touchpoint apply -f /nonexistent/x.yaml":                           "error: file_error: read /nonexistent/x.yaml",
		"touchpoint customers import " + badCSV + " --id-column customerID": `error: invalid_input: ` + badCSV + `: the header has no column "customerID"`,
		"touchpoint get offers":                                             "error: unreachable: GET http://127.0.0.1:1/",
		"touchpoint --ca-cert /nonexistent/ca.pem get offers":               "error: file_error: --ca-cert: open /nonexistent/ca.pem",
		"touchpoint --ca-cert " + badCSV + " get offers":                    "error: invalid_input: --ca-cert " + badCSV + ": no PEM certificate in the file",
	}
	t.Setenv("TOUCHPOINT_LANG", "en")
	t.Setenv("TOUCHPOINT_ADDR", "http://127.0.0.1:1") // nothing listens: what needs no server must not ask one
	for line, want := range cases {
		var out, errb bytes.Buffer
		code := run(context.Background(), strings.Fields(line), &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), want) {
			t.Errorf("%s: exit %d, stderr %q; want non-zero and %q", line, code, errb.String(), want)
		}
	}
}

func TestRun_UsageErrors(t *testing.T) {
	cases := map[string]string{
		"touchpoint get":                          "usage: touchpoint get KIND [ID]",
		"touchpoint get widgets":                  `unknown kind "widgets"`,
		"touchpoint get offers a b":               "usage: touchpoint get KIND [ID]",
		"touchpoint get offers -o yaml":           `-o "yaml": use table or json`,
		"touchpoint apply":                        `required flag --filename not given`,
		"touchpoint tokens create":                `required flag --role not given`,
		"touchpoint cluster snapshot save":        "usage: touchpoint cluster snapshot save FILE",
		"touchpoint apply -f /nonexistent/x.yaml": "read /nonexistent/x.yaml",
	}
	for line, want := range cases {
		var out, errb bytes.Buffer
		code := run(context.Background(), strings.Fields(line), &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), want) {
			t.Errorf("%s: exit %d, stderr %q; want non-zero and %q", line, code, errb.String(), want)
		}
	}
}
