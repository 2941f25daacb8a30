package gossiplog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLogger_LevelsMetadataAndRepeats(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	l := New(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), func() time.Time { return now })
	line := func() string {
		t.Helper()
		s := strings.TrimSpace(buf.String())
		buf.Reset()
		return s
	}

	l.Print("[WARN] memberlist: Refuting a suspect message (from: n2)")
	if got := line(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, `detail="Refuting a suspect message (from: n2)"`) {
		t.Fatalf("a warning: %s", got)
	}
	l.Print("[ERR] memberlist: Error reading stream: read tcp: use of closed network connection")
	if got := line(); !strings.Contains(got, "level=DEBUG") {
		t.Fatalf("a socket closed under a probe is not an error: %s", got)
	}
	l.Print(`[DEBUG] memberlist: Stream connection from=1.2.3.4 meta:([123 34 114 111 108 101 34 125])`)
	if got := line(); !strings.Contains(got, `meta:({\"role\"})`) {
		t.Fatalf("metadata printed as bytes: %s", got)
	}
	l.Print(`[DEBUG] memberlist: binary [1 2 3 200]`)
	if got := line(); !strings.Contains(got, "[1 2 3 200]") {
		t.Fatalf("bytes that are not text are left alone: %s", got)
	}

	storm := "[ERR] memberlist: Decrypt packet failed: no installed keys could decrypt the message from=10.0.0.9:7946"
	l.Print(storm)
	if got := line(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, "hint=") || !strings.Contains(got, "revoked agent") {
		t.Fatalf("an unknown key: %s", got)
	}
	for range 500 {
		now = now.Add(10 * time.Millisecond)
		l.Print(storm)
	}
	if got := line(); got != "" {
		t.Fatalf("repeats within the window were written: %s", got)
	}
	now = now.Add(RepeatWindow)
	l.Print(storm)
	if got := line(); !strings.Contains(got, "repeated=500") || strings.Count(got, "\n") != 0 {
		t.Fatalf("the repeat after the window: %s", got)
	}
	for range 3 {
		l.Print(storm)
	}
	l.Print("[INFO] memberlist: Suspect n3 has failed, no acks received")
	got := line()
	if lines := strings.Split(got, "\n"); len(lines) != 2 || !strings.Contains(lines[0], "repeated=3") || !strings.Contains(lines[1], "Suspect n3") {
		t.Fatalf("another line flushes the count first: %s", got)
	}
}
