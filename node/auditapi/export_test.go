package auditapi

// HoldReaders takes every reader's place of s, as calls in flight would,
// until release.
func HoldReaders(s *Service) (release func()) {
	for range maxReaders {
		s.readers <- struct{}{}
	}
	return func() {
		for range maxReaders {
			<-s.readers
		}
	}
}
