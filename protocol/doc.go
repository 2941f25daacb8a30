// Package protocol is the contract between Touchpoint's processes: the domain
// types that cross process boundaries (catalogue documents today; profiles,
// models and contact events as they arrive). It is a leaf: it imports only the
// standard library, so the agent, the control plane and the CLI can all
// depend on it without depending on each other.
package protocol
