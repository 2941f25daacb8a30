// Package agent is the edge daemon that sits beside kiosks, IVR nodes and
// self-service terminals. It caches the catalogue and profiles, decides offers
// locally and streams contact events to the control plane. It never imports
// the control plane: everything the two share lives in package protocol.
//
// Agent wires the parts, each in its own package: the configuration copy
// (agent/cache), the durable event FIFO (agent/outbox), the QUIC link to the
// control plane (agent/link) and gossip membership (agent/gossip); this
// package adds the HTTP API the kiosk app or IVR platform calls and the
// Prometheus metrics. The data directory holds identity/ (the link's
// enrollment), cache/ and outbox/ (badger, optionally encrypted at rest).
//
// The API answers from the agent's own disk, with or without the control
// plane: POST /v1/contacts returns 202 only after the event is fsynced in the
// outbox; GET /v1/catalog/{kind}[/{id}] reads the cache; /readyz is 200 once
// the cache holds a configuration, /healthz while the process serves, and
// /metrics is Prometheus text. Errors are protocol/api's error body with a
// stable code.
package agent
