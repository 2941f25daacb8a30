package decide

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// benchCatalogFile is benchCatalog as JSON, for benchmarks outside this
// package (decidetest embeds it; it cannot import this package's tests).
const benchCatalogFile = "decidetest/catalog.json"

// TestBenchCatalogFileIsCurrent keeps decidetest's copy of the benchmark
// catalogue equal to benchCatalog; TOUCHPOINT_UPDATE=1 rewrites it.
func TestBenchCatalogFileIsCurrent(t *testing.T) {
	want, err := json.MarshalIndent(benchCatalog(), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if os.Getenv("TOUCHPOINT_UPDATE") != "" {
		if err := os.WriteFile(benchCatalogFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(benchCatalogFile)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is not benchCatalog() (err %v): run TOUCHPOINT_UPDATE=1 go test -run BenchCatalogFile ./agent/decide/", benchCatalogFile, err)
	}
}
