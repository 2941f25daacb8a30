package gossip

import (
	"context"
	stdlog "log"
	"log/slog"
	"strings"
)

// memberlistLogger routes memberlist's "[LEVEL] memberlist: text" lines to
// slog (memberlist writes to stderr when given no logger).
func memberlistLogger(log *slog.Logger) *stdlog.Logger {
	return stdlog.New(logWriter{log}, "", 0)
}

type logWriter struct{ log *slog.Logger }

// memberlist's levels, in the order they are tried.
var logLevels = []struct {
	prefix string
	level  slog.Level
}{
	{"[DEBUG]", slog.LevelDebug},
	{"[INFO]", slog.LevelInfo},
	{"[WARN]", slog.LevelWarn},
	{"[ERR]", slog.LevelError},
	{"[ERROR]", slog.LevelError},
}

// Write takes one log line (package log writes each line in one call).
func (w logWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := slog.LevelInfo
	for _, l := range logLevels {
		if rest, ok := strings.CutPrefix(line, l.prefix); ok {
			line, level = strings.TrimSpace(rest), l.level
			break
		}
	}
	if level > slog.LevelDebug && strings.Contains(line, "use of closed network connection") {
		// The socket closed under a probe in flight: shutdown, not a fault.
		level = slog.LevelDebug
	}
	ctx := context.Background()
	if w.log.Enabled(ctx, level) {
		w.log.Log(ctx, level, "memberlist", "detail", strings.TrimPrefix(line, "memberlist: "))
	}
	return len(p), nil
}
