//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package audit

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lock takes an exclusive, non-blocking flock on f. The lock belongs to
// the open file description: a second open of the same file, in this
// process or another, is refused until the first is closed.
func lock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return fmt.Errorf("%w: %s (is another accordd using this data_dir?)", ErrLocked, f.Name())
		default:
			return fmt.Errorf("lock %s: %w", f.Name(), err)
		}
	}
}

// unlock releases the lock (closing the file would too).
func unlock(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_UN)
}
