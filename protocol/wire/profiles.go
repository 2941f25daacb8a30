package wire

import (
	"errors"
	"fmt"
	"io"

	"touchpoint.dev/touchpoint/protocol"
)

// Version 3: customer profiles and contact history reach agents.
//
//   - ProfileGet (agent → node, alone on a new stream): one customer the
//     agent does not hold. The node answers Profile or Error (not_found)
//     and both sides close the stream.
//   - Prefetch (agent → node, alone on a new stream): the profiles of a
//     region ("" for customers without one), in id order after After. The
//     node answers with Profiles frames of up to Limit profiles; the last
//     one has Done set.
//   - Contacts (node → agent, on the control stream, binary): contact
//     events as they commit, so a cap reached on one agent holds on the
//     others. Sent only to sessions whose Hello says version 3 or later.
//
// Profile changes themselves travel in the change feed (Kind "Customer",
// with the customer's region); agents keep those of their region and those
// they hold.

// ProfileGet asks for one customer's profile and recent contacts.
type ProfileGet struct {
	ID string `json:"id"`
}

// Profile answers ProfileGet: the profile, its recent contacts (oldest
// first, at most MaxRecentContacts, within MaxContactWindow), and the
// node's applied index when it read them.
type Profile struct {
	Profile  protocol.Profile        `json:"profile"`
	Contacts []protocol.ContactEvent `json:"contacts"`
	Index    uint64                  `json:"index"`
}

// Prefetch asks for every profile of Region whose id sorts after After.
type Prefetch struct {
	Region string `json:"region"`
	After  string `json:"after,omitempty"`
	Limit  int    `json:"limit,omitempty"`
	// Count asks the node to say first how many customers Region holds (a
	// Profiles frame with only Total set), so the agent can decide whether
	// to take them all.
	Count bool `json:"count,omitempty"`
}

// Profiles is one page of a prefetch. Next is the id to resume after.
type Profiles struct {
	Profiles []Profile `json:"profiles"`
	Next     string    `json:"next,omitempty"`
	Done     bool      `json:"done,omitempty"`
	// Total answers Prefetch.Count.
	Total int `json:"total,omitempty"`
}

// Contact history limits: what a node sends with a profile, and what an
// agent keeps per customer. Contact policies' windows are at most 366 days.
const (
	MaxRecentContacts = 256
	MaxContactWindow  = 366 * 24 * 3600 // seconds
)

// ContactsBinary is the payload of a Contacts frame: committed events of
// any agents. Layout, version 1:
//
//	byte      1
//	then protocol's event list (protocol.AppendEventList): uvarint count,
//	per event the agent id (uvarint length + bytes) and the binary event
const contactsBinaryVersion = 1

// EncodeContacts frames evs as a Contacts frame.
func EncodeContacts(evs []protocol.ContactEvent) ([]byte, error) {
	p := make([]byte, 1, 1+protocol.EventListSize(evs))
	p[0] = contactsBinaryVersion
	p = protocol.AppendEventList(p, evs)
	var w frameBuffer
	if err := WriteRaw(&w, MsgContacts, p); err != nil {
		return nil, err
	}
	return w.b, nil
}

// DecodeContacts decodes a Contacts payload.
func DecodeContacts(payload []byte) ([]protocol.ContactEvent, error) {
	if len(payload) == 0 || payload[0] != contactsBinaryVersion {
		return nil, errors.New("contacts: missing or unknown version")
	}
	evs, err := protocol.DecodeEventList(payload[1:])
	if err != nil {
		return nil, fmt.Errorf("contacts: %w", err)
	}
	return evs, nil
}

type frameBuffer struct{ b []byte }

func (f *frameBuffer) Write(p []byte) (int, error) {
	f.b = append(f.b, p...)
	return len(p), nil
}

var _ io.Writer = (*frameBuffer)(nil)
