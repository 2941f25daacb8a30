package store

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// newHCLogger returns an hclog.Logger for raft and raft-wal that writes
// through our slog logger, so their messages share our format and level.
func newHCLogger(log *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "raft",
		Level:      hclog.Info,
		JSONFormat: true,
		Output:     &hclogWriter{log: log},
	})
}

// hclogWriter turns hclog's JSON lines into slog records.
type hclogWriter struct{ log *slog.Logger }

func (w *hclogWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimSpace(p), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			w.log.Warn(strings.TrimSpace(string(line)))
			continue
		}
		level := slog.LevelInfo
		switch m["@level"] {
		case "trace", "debug":
			level = slog.LevelDebug
		case "warn":
			level = slog.LevelWarn
		case "error":
			level = slog.LevelError
		}
		msg, _ := m["@message"].(string)
		attrs := []any{"module", m["@module"]}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if strings.HasPrefix(k, "@") {
				continue
			}
			v := m[k]
			if isRaftItself(v) {
				continue
			}
			if e, ok := v.(string); ok && k == "error" && level > slog.LevelDebug && shutdownError(e) {
				level = slog.LevelDebug // a stream cut by our own shutdown
			}
			attrs = append(attrs, attrKey(k), attrValue(k, v))
		}
		w.log.Log(context.Background(), level, strings.ToLower(msg), attrs...)
	}
	return len(p), nil
}

// isRaftItself: raft passes its *Raft as a value ("node", "leader",
// "follower"), which hclog's JSON shows as its one exported field.
func isRaftItself(v any) bool {
	o, ok := v.(map[string]any)
	_, has := o["RestoreCommittedLogs"]
	return ok && len(o) == 1 && has
}

// shutdownError: what raft logs when its transport closes under it.
func shutdownError(e string) bool {
	return strings.Contains(e, "transport shutdown") || strings.Contains(e, "raft is already shutdown")
}

// attrKey keeps raft's keys from clashing with ours and makes them one
// word ("backoff time" -> backoff_time).
func attrKey(k string) string {
	k = strings.ReplaceAll(k, " ", "_")
	if k == "node" || k == "component" {
		return "raft_" + k
	}
	return k
}

// attrValue shows an object (a server: address, id, suffrage) as compact
// JSON instead of Go's map syntax, and a backoff or timeout (nanoseconds
// in hclog's JSON) as a duration.
func attrValue(k string, v any) any {
	switch x := v.(type) {
	case map[string]any, []any:
		b, err := json.Marshal(x)
		if err == nil {
			return string(b)
		}
	case float64:
		if strings.Contains(k, "backoff") || strings.Contains(k, "timeout") {
			return time.Duration(x).String()
		}
	}
	return v
}
