package cache_test

import (
	"maps"
	"testing"

	"touchpoint.dev/touchpoint/agent/cache"
)

// The offer volumes saved last are read back after a restart; none saved
// reads as none.
func TestCache_VolumesSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	c, err := cache.Open(cache.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if m, ok, err := c.Volumes(); err != nil || ok || m != nil {
		t.Fatalf("nothing saved: %v %v %v", m, ok, err)
	}
	for _, m := range []map[string]int64{{"phone-500": 2}, {"phone-500": 3, "tv-50": 0}, {"phone-500": 3, "tv-50": 0}} {
		if err := c.SaveVolumes(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, dir)
	m, ok, err := c.Volumes()
	if err != nil || !ok || !maps.Equal(m, map[string]int64{"phone-500": 3, "tv-50": 0}) {
		t.Fatalf("after a restart: %v %v %v", m, ok, err)
	}
}
