//go:build !linux

package store

import bolt "go.etcd.io/bbolt"

// Trim does nothing on systems without madvise semantics we rely on.
func (s *Store) Trim() error { return nil }

func (s *Store) trimTx(*bolt.Tx) error { return nil }
