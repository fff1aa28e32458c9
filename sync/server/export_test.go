package server

// KillBus closes the node's NATS connection abruptly (tests: a node that
// dies without a graceful shutdown).
func KillBus(s *Server) {
	if s.nc != nil {
		s.nc.Close()
	}
}
