//go:build !linux

package store

// Trim does nothing on systems without madvise semantics we rely on.
func (s *Store) Trim() error { return nil }
