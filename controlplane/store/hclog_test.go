package store

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestHCLogWriter_MakesRaftLinesReadable(t *testing.T) {
	var buf bytes.Buffer
	w := &hclogWriter{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", "n1")}
	for _, tc := range []struct{ in, want, not string }{
		{`{"@level":"info","@message":"entering candidate state","@module":"raft","node":{"RestoreCommittedLogs":false},"term":3}`,
			`level=INFO msg="entering candidate state" node=n1 module=raft term=3`, "RestoreCommittedLogs"},
		{`{"@level":"info","@message":"added peer, starting replication","@module":"raft","peer":{"Address":"127.0.0.1:7902","ID":"n2","Suffrage":0}}`,
			`peer="{\"Address\":\"127.0.0.1:7902\",\"ID\":\"n2\",\"Suffrage\":0}"`, "map["},
		{`{"@level":"warn","@message":"failed to contact","@module":"raft","backoff time":500000000,"server-id":"n2"}`,
			`backoff_time=500ms`, "5e+08"},
		{`{"@level":"error","@message":"failed to decode incoming command","@module":"raft","error":"transport shutdown"}`,
			`level=DEBUG msg="failed to decode incoming command"`, ""},
		{`{"@level":"error","@message":"failed to decode incoming command","@module":"raft","error":"unexpected EOF"}`,
			`level=ERROR`, ""},
	} {
		buf.Reset()
		if _, err := w.Write([]byte(tc.in + "\n")); err != nil {
			t.Fatal(err)
		}
		got := buf.String()
		if !strings.Contains(got, tc.want) || tc.not != "" && strings.Contains(got, tc.not) {
			t.Errorf("%s\n got %s want %s (without %q)", tc.in, got, tc.want, tc.not)
		}
	}
}
