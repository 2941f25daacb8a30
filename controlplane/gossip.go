package controlplane

import "touchpoint.dev/touchpoint/protocol/api"

// gossipAgents is the gossip pool's view of the agents.
func (s *Server) gossipAgents() map[string]api.FleetAgent { return nil }
