package adminapi

import (
	"testing"
	"time"
)

// since takes what the other commands take: a date, and days.
func TestParseSince_DatesAndDays(t *testing.T) {
	now := time.Date(2026, 12, 3, 15, 4, 5, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2026-11-22T08:00:00+08:00": time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC),
		"1997-01-01":                time.Date(1997, 1, 1, 0, 0, 0, 0, time.UTC),
		"24h":                       now.Add(-24 * time.Hour),
		"30d":                       time.Date(2026, 11, 3, 15, 4, 5, 0, time.UTC),
		"0d":                        now,
	} {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("since %q = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1d", "1.5d", "30days", "d", "1997-13-01", "-24h", "99999999d"} {
		if _, err := parseSince(in, now); err == nil {
			t.Errorf("since %q accepted", in)
		}
	}
}
