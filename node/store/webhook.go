package store

import bolt "go.etcd.io/bbolt"

// keyWebhookPosition is the registry index up to which the office webhook
// delivered the match events (node/webhook), in bucketMeta.
var keyWebhookPosition = []byte("webhook_position")

// WebhookPosition returns the registry index up to which the office
// webhook delivered (0: never delivered).
func (s *Store) WebhookPosition() (uint64, error) {
	var n uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		n = getU64(tx.Bucket(bucketMeta).Get(keyWebhookPosition))
		return nil
	})
	return n, err
}

// SetWebhookPosition records that the office webhook delivered up to the
// registry index n.
func (s *Store) SetWebhookPosition(n uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyWebhookPosition, u64(n))
	})
}
