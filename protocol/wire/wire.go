// Package wire is the framing of the QUIC protocol between agents and the
// control plane (ALPN "touchpoint/1"). Both sides import it; it imports only
// the standard library.
//
// # Frames
//
// Every message on a stream is one frame:
//
//	bytes 0-3  payload length n, big endian (at most MaxFrame)
//	bytes 4-5  message type, big endian (MsgHello, …)
//	bytes 6-   n bytes of payload: the message as JSON (EventsBinary and
//	           Contacts are binary, see their docs)
//
// Message types are only ever appended, never renumbered. A receiver that
// meets a type it does not know reads past the frame and ignores it when the
// type is at or above FirstOptionalType (optional, newer messages), and
// closes the stream with ErrUnknownMessage otherwise.
//
// # Version
//
// ProtocolVersion is sent in Hello and Welcome; a peer refuses a version it
// cannot speak with an Error frame. Changelog:
//
//	1  2026-11-22  first version: Hello/Welcome, Changes, Snapshot, Events/EventsAck, Error.
//	2  2026-12-01  enrollment (Enroll/Enrolled), agent Status, gossip Keyring,
//	               node-to-node ForwardEvents; Welcome lists the servers; an
//	               events stream opens with an empty batch, answered with the
//	               cluster's mark; EventsBinary, the same batch without JSON
//	               (the only frame whose payload is not JSON).
//	3  2026-12-01  customer profiles and contact history: Hello names the
//	               agent's region; ProfileGet/Profile and Prefetch/Profiles
//	               on their own streams; Contacts (binary) pushed on the
//	               control stream to version-3 sessions (see profiles.go).
//
// # Connections and streams
//
// Every connection is QUIC with TLS 1.3 and ALPN "touchpoint/1". There are
// three kinds, told apart by the client certificate:
//
//   - enrollment: the agent has no certificate yet. It verifies the control
//     plane against the CA fingerprint in its join token
//     (protocol.VerifyPeerFingerprint), opens one stream and sends Enroll;
//     the node answers Enrolled (or Error) and both sides close.
//   - agent session: the agent presents the certificate the cluster issued
//     it, and verifies the node against the cluster CA. The agent opens the
//     control stream and sends Hello; the node answers Welcome, then Keyring,
//     then Changes or a Snapshot bringing the agent from the index it holds to
//     the present, then pushes every committed change as it happens. The
//     agent sends Status frames on the same stream. Once welcomed, the agent
//     opens one events stream with an empty Events batch (QUIC shows a peer
//     a stream only once it carries data); the node answers it with EventsAck
//     holding the highest sequence the cluster has for the agent. The agent
//     then sends batches from the next sequence on (EventsBinary, or Events
//     in JSON), several in flight, and the node answers each, in order, with an EventsAck after
//     Raft commit (an empty batch is answered with the current mark). On
//     any failure the node sends Error and closes the events stream; the
//     agent opens a new one (the control stream stays up).
//   - node to node: a control-plane node presents its server certificate
//     (which also allows client authentication) to the leader's gateway and
//     opens one stream per forwarded batch: ForwardEvents, answered by
//     EventsAck or Error.
package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ProtocolVersion is the version this build speaks.
const ProtocolVersion = 3

// ALPN is the TLS application protocol name (unchanged by version 2:
// versions are negotiated in Hello and Enroll).
const ALPN = "touchpoint/1"

// MsgType numbers a message. Append only.
type MsgType uint16

// Message types.
const (
	MsgHello     MsgType = 1 // agent → control plane, first on the control stream
	MsgWelcome   MsgType = 2 // control plane → agent, answers Hello
	MsgChanges   MsgType = 3 // control plane → agent, configuration changes in index order
	MsgSnapshot  MsgType = 4 // control plane → agent, the whole configuration at an index
	MsgEvents    MsgType = 5 // agent → control plane, a batch of contact events
	MsgEventsAck MsgType = 6 // control plane → agent, highest sequence committed
	MsgError     MsgType = 7 // either way, then the stream closes
	// Version 2.
	MsgEnroll        MsgType = 8  // agent → control plane, alone on an enrollment connection
	MsgEnrolled      MsgType = 9  // control plane → agent, answers Enroll
	MsgStatus        MsgType = 10 // agent → control plane, on the control stream
	MsgKeyring       MsgType = 11 // control plane → agent, the gossip keys
	MsgForwardEvents MsgType = 12 // node → leader, one agent's batch
	MsgEventsBinary  MsgType = 13 // agent → control plane, Events in binary (see EventsBinary)
	// Version 3.
	MsgProfileGet MsgType = 14 // agent → control plane, alone on a stream
	MsgProfile    MsgType = 15 // control plane → agent, answers ProfileGet
	MsgPrefetch   MsgType = 16 // agent → control plane, alone on a stream
	MsgProfiles   MsgType = 17 // control plane → agent, pages answering Prefetch
	MsgContacts   MsgType = 18 // control plane → agent, committed contacts (binary, see ContactsBinary)

	// FirstOptionalType: types from here on may be skipped by a peer that
	// does not know them.
	FirstOptionalType MsgType = 0x8000

	MsgOfferVolumes MsgType = FirstOptionalType + 1 // control plane → agent, presentations of the offers with a volumeCap
)

func (t MsgType) String() string {
	switch t {
	case MsgHello:
		return "hello"
	case MsgWelcome:
		return "welcome"
	case MsgChanges:
		return "changes"
	case MsgSnapshot:
		return "snapshot"
	case MsgEvents:
		return "events"
	case MsgEventsAck:
		return "events-ack"
	case MsgError:
		return "error"
	case MsgEnroll:
		return "enroll"
	case MsgEnrolled:
		return "enrolled"
	case MsgStatus:
		return "status"
	case MsgKeyring:
		return "keyring"
	case MsgForwardEvents:
		return "forward-events"
	case MsgEventsBinary:
		return "events-binary"
	case MsgProfileGet:
		return "profile-get"
	case MsgProfile:
		return "profile"
	case MsgPrefetch:
		return "prefetch"
	case MsgProfiles:
		return "profiles"
	case MsgContacts:
		return "contacts"
	case MsgOfferVolumes:
		return "offer-volumes"
	}
	return fmt.Sprintf("message(%d)", uint16(t))
}

// MaxFrame bounds one frame's payload (a full configuration snapshot must
// fit; profiles travel in batches).
const MaxFrame = 64 << 20

const headerLen = 6

// Errors a reader branches on.
var (
	ErrFrameTooLarge  = errors.New("frame too large")
	ErrUnknownMessage = errors.New("unknown message type")
)

// Frame is one undecoded message.
type Frame struct {
	Type    MsgType
	Payload []byte
}

// WriteFrame writes one message as JSON (without HTML escaping: documents
// travel as written, "a >= 6" and all).
func WriteFrame(w io.Writer, t MsgType, msg any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(msg); err != nil {
		return fmt.Errorf("encode %s: %w", t, err)
	}
	return WriteRaw(w, t, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// WriteRaw writes one frame with an already encoded payload.
func WriteRaw(w io.Writer, t MsgType, payload []byte) error {
	if len(payload) > MaxFrame {
		return fmt.Errorf("write %s: %w: %d bytes", t, ErrFrameTooLarge, len(payload))
	}
	buf := make([]byte, headerLen, headerLen+len(payload))
	binary.BigEndian.PutUint32(buf[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint16(buf[4:6], uint16(t))
	buf = append(buf, payload...)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("write %s: %w", t, err)
	}
	return nil
}

// ReadFrame reads the next frame, refusing one whose payload exceeds max
// (0 means MaxFrame) before reading it. Unknown optional types are
// returned like any other: the caller ignores them; unknown required types
// are for the caller to refuse (see Known).
func ReadFrame(r io.Reader, max int) (Frame, error) {
	if max <= 0 || max > MaxFrame {
		max = MaxFrame
	}
	var hdr [headerLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Frame{}, err
	}
	n := binary.BigEndian.Uint32(hdr[0:4])
	t := MsgType(binary.BigEndian.Uint16(hdr[4:6]))
	if uint64(n) > uint64(max) {
		return Frame{}, fmt.Errorf("read %s: %w: %d bytes, limit %d", t, ErrFrameTooLarge, n, max)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, fmt.Errorf("read %s payload: %w", t, err)
	}
	return Frame{Type: t, Payload: p}, nil
}

// Known reports whether this build understands t; an unknown type below
// FirstOptionalType is a protocol error.
func Known(t MsgType) bool { return t >= MsgHello && t <= MsgContacts }

// Decode decodes a frame's payload into msg, refusing trailing data.
// Unknown fields are ignored: a message may gain optional fields within a
// protocol version, and an older peer skips them.
func (f Frame) Decode(msg any) error {
	dec := json.NewDecoder(bytes.NewReader(f.Payload))
	if err := dec.Decode(msg); err != nil {
		return fmt.Errorf("decode %s: %w", f.Type, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("decode %s: trailing data", f.Type)
	}
	return nil
}
