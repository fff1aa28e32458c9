package bolt

import bbolt "go.etcd.io/bbolt"

// DBForTest exposes the handle to tests that inspect or damage the file.
func DBForTest(s *Store) *bbolt.DB { return s.db }
