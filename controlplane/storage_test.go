package controlplane

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// A node notices its data directory vanishing under it (rm -rf, an
// unmounted volume) and stops instead of answering ready while nothing it
// commits is stored.
func TestCheckStorage_ADataDirectoryRemovedUnderTheNode(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"fsm", "raft"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	s := &Server{cfg: Config{DataDir: dir}}
	if err := s.checkStorage(); err != nil {
		t.Fatalf("an intact directory: %v", err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "raft")); err != nil {
		t.Fatal(err)
	}
	if err := s.checkStorage(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("raft/ removed: %v", err)
	}
}
