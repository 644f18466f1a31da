package store

import (
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// Trim tells the kernel that the store's mapped pages may leave this
// process's resident memory (MADV_DONTNEED). They stay in the page cache and
// come back on the next access, so nothing is lost; what changes is that a
// node that has read much of its store (a large import, a check of every
// custody chain) does not carry the whole file in its RSS. The mapping is
// stable while a read transaction is open (bbolt remaps only when no reader
// holds it), so Trim holds one.
func (s *Store) Trim() error {
	return s.db.View(s.trimTx)
}

// trimTx trims within an open transaction (long scans call it as they go).
func (s *Store) trimTx(tx *bolt.Tx) error {
	info := s.db.Info()
	size := int(tx.Size())
	size -= size % info.PageSize
	if info.Data == 0 || size <= 0 {
		return nil
	}
	// bbolt hands out the mapping's address as a uintptr; pass it on as one
	// (it is not Go memory).
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, info.Data, uintptr(size), unix.MADV_DONTNEED); errno != 0 {
		return errno
	}
	return nil
}
