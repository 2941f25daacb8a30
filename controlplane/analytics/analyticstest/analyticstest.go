// Package analyticstest finds the public data sets the analytics tests and
// benchmarks read: ../shared/data beside the repository root (the
// directory holding go.mod). They are never copied into the project.
package analyticstest

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedData returns the data directory, or skips the test when it is
// absent (a checkout without the data beside it).
func SharedData(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	data := filepath.Join(dir, "..", "shared", "data")
	if _, err := os.Stat(data); err != nil {
		t.Skipf("data directory %s absent: %v", data, err)
	}
	return data
}
