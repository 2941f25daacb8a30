// Package agent is the edge daemon that sits beside kiosks, IVR nodes and
// self-service terminals. It caches the catalogue and profiles, decides offers
// locally and streams contact events to the control plane. It never imports
// the control plane: everything the two share lives in package protocol.
package agent
