//go:build unix

package diskspace

import (
	"fmt"
	"syscall"
)

// statFree returns the bytes of dir's file system available to
// unprivileged users.
func statFree(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
