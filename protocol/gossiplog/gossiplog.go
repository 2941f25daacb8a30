// Package gossiplog routes memberlist's log lines ("[LEVEL] memberlist:
// text", written through a standard-library logger) into slog, for the
// agent's gossip and the control plane's fleet alike. It makes three things
// readable that memberlist prints raw: a member's metadata (a JSON document
// printed as a list of byte values), the shutdown of a socket under a probe
// (not a fault), and the storm of identical lines a member gossiping with a
// key nobody holds any more causes (a revoked agent after a key rotation
// logs one per packet): a line repeated within RepeatWindow is counted, not
// written, and the next one written says how many there were.
package gossiplog

import (
	"context"
	stdlog "log"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RepeatWindow is how long an identical line is counted instead of
// written.
const RepeatWindow = 10 * time.Second

// New returns the logger to give memberlist (Config.Logger). now is the
// clock (nil: time.Now).
func New(log *slog.Logger, now func() time.Time) *stdlog.Logger {
	if now == nil {
		now = time.Now
	}
	return stdlog.New(&writer{log: log, now: now}, "", 0)
}

type writer struct {
	log *slog.Logger
	now func() time.Time

	mu        sync.Mutex
	last      string     // the last line written
	lastLevel slog.Level // its level
	at        time.Time  // when it was written
	repeats   int        // identical lines since, not written
}

// memberlist's levels, in the order they are tried.
var levels = []struct {
	prefix string
	level  slog.Level
}{
	{"[DEBUG]", slog.LevelDebug},
	{"[INFO]", slog.LevelInfo},
	{"[WARN]", slog.LevelWarn},
	{"[ERR]", slog.LevelError},
	{"[ERROR]", slog.LevelError},
}

// keyHint is added to the lines a packet under an unknown gossip key
// causes.
const keyHint = "a member gossips under a key this one does not hold: a revoked agent still running, or one that was away while the gossip key was rotated twice"

// Write takes one log line (package log writes each line in one call).
func (w *writer) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := slog.LevelInfo
	for _, l := range levels {
		if rest, ok := strings.CutPrefix(line, l.prefix); ok {
			line, level = strings.TrimSpace(rest), l.level
			break
		}
	}
	line = strings.TrimPrefix(line, "memberlist: ")
	if level > slog.LevelDebug && strings.Contains(line, "use of closed network connection") {
		// The socket closed under a probe in flight: shutdown, not a fault.
		level = slog.LevelDebug
	}
	line = metaBytes.ReplaceAllStringFunc(line, bytesAsText)
	var attrs []any
	if strings.Contains(line, "no installed keys could decrypt") || strings.Contains(line, "unexpected msgType") {
		level = min(level, slog.LevelWarn)
		attrs = append(attrs, "hint", keyHint)
	}
	ctx := context.Background()
	if !w.log.Enabled(ctx, level) {
		return len(p), nil
	}
	w.mu.Lock()
	now := w.now()
	if line == w.last && now.Sub(w.at) < RepeatWindow {
		w.repeats++
		w.mu.Unlock()
		return len(p), nil
	}
	if w.repeats > 0 && line == w.last {
		attrs = append(attrs, "repeated", w.repeats)
	} else if w.repeats > 0 {
		w.log.Log(ctx, w.lastLevel, "memberlist", "detail", w.last, "repeated", w.repeats)
	}
	w.last, w.lastLevel, w.at, w.repeats = line, level, now, 0
	w.mu.Unlock()
	w.log.Log(ctx, level, "memberlist", append([]any{"detail", line}, attrs...)...)
	return len(p), nil
}

// metaBytes matches a byte slice printed with %v: "[123 34 114 …]".
var metaBytes = regexp.MustCompile(`\[(?:\d{1,3} ){3,}\d{1,3}\]`)

// bytesAsText turns a printed byte slice back into its text when it is
// printable (memberlist's metadata is JSON), and leaves it alone otherwise.
func bytesAsText(s string) string {
	fields := strings.Fields(strings.Trim(s, "[]"))
	b := make([]byte, 0, len(fields))
	for _, f := range fields {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0x20 || n > 0x7e {
			return s
		}
		b = append(b, byte(n))
	}
	return string(b)
}
