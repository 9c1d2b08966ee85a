package directory

// Changes counts the writes this node has made to a directory's users and
// groups. A reader that caches something derived from them (the SCIM
// server's page cursors and totals) reads the count first and trusts its
// cache only while the count is unchanged. Writes by other nodes are not
// seen here, so such caches must also expire.
func (s *Service) Changes(dirID string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changes[dirID]
}

// changed records a write to dirID, after it committed (or failed: a
// spurious bump only costs a cache miss).
func (s *Service) changed(dirID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changes == nil {
		s.changes = map[string]uint64{}
	}
	s.changes[dirID]++
}
