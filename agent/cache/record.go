package cache

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"touchpoint.dev/touchpoint/protocol"
)

// A cached profile's record, at p/<gen 8><id>, is one of two formats:
//
//	index (8) | profile JSON
//	index (8) | 0x00 | JSON length (4) | profile JSON | event list
//
// The second carries the customer's contact history (protocol's event
// list; empty when there is none), so a decision reads profile and
// history with one Get. A point read is a bloom filter and an index
// search in every level, over memory-mapped pages; the history's own Get
// cost a decision about as much as the profile's (docs/PERFORMANCE.md).
// Every write of a record writes the second format. The first is what
// earlier versions wrote: its history is at h/<id>, and the customer's
// next write moves it in and deletes h/<id>. Otherwise h/<id> holds the
// contacts of a customer whose profile is not cached (the agent's own,
// logged before a fetch); the fetch moves them in too. So a customer's
// history is in its record or at h/<id>, never both.
const recordInline = 0x00

const recordHeader = 8 + 1 + 4

// record is a parsed record; its slices point into the stored value.
type record struct {
	index   uint64
	json    []byte
	history []byte
	// inline: the record holds the history (second format); else the
	// history, if any, is at h/<id>.
	inline bool
}

func parseRecord(v []byte) (record, error) {
	if len(v) < 9 {
		return record{}, fmt.Errorf("stored profile: %d bytes", len(v))
	}
	r := record{index: binary.BigEndian.Uint64(v)}
	if v[8] != recordInline {
		r.json = v[8:]
		return r, nil
	}
	if len(v) < recordHeader {
		return record{}, fmt.Errorf("stored profile: %d bytes", len(v))
	}
	n := binary.BigEndian.Uint32(v[9:recordHeader])
	if uint64(n) > uint64(len(v)-recordHeader) {
		return record{}, fmt.Errorf("stored profile: JSON of %d bytes in %d", n, len(v))
	}
	r.json, r.history, r.inline = v[recordHeader:recordHeader+n], v[recordHeader+n:], true
	return r, nil
}

// appendRecord appends a record of the second format holding profile
// JSON js and the encoded history.
func appendRecord(dst []byte, index uint64, js, history []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, index)
	dst = append(dst, recordInline)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(js)))
	return append(append(dst, js...), history...)
}

// encodeRecord encodes p with the encoded history.
func encodeRecord(p *protocol.Profile, history []byte) ([]byte, error) {
	if p.Validate() == nil { // the fast encoder takes valid profiles only
		b := make([]byte, recordHeader, recordHeader+protocol.ProfileJSONSize(p)+len(history))
		binary.BigEndian.PutUint64(b, p.Index)
		b[8] = recordInline
		b = protocol.AppendProfileJSON(b, p)
		binary.BigEndian.PutUint32(b[9:recordHeader], uint32(len(b)-recordHeader))
		return append(b, history...), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return appendRecord(nil, p.Index, bytes.TrimSuffix(buf.Bytes(), []byte("\n")), history), nil
}

// decodeProfile decodes a record's profile JSON.
func decodeProfile(js []byte, strs *protocol.Strings) (*protocol.Profile, error) {
	if q, ok := protocol.DecodeProfileJSONStrings(js, strs); ok {
		return &q, nil
	}
	p := &protocol.Profile{}
	return p, json.Unmarshal(js, p)
}

// readRecord calls fn with id's record of generation gen, if cached; the
// record's slices are valid only within fn.
func readRecord(tx *badger.Txn, gen uint64, id string, fn func(r record) error) (found bool, err error) {
	it, err := tx.Get(profileKey(gen, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, it.Value(func(v []byte) error {
		r, err := parseRecord(v)
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		return fn(r)
	})
}

// carried is the history a rewrite of a customer's record carries over:
// the record's own, or what h/<id> held (which the rewrite then deletes).
type carried struct {
	history []byte // a copy
	fromH   bool
}

// carriedHistory returns what a rewrite of id's record must carry, given
// the stored record (found, r; r's slices valid for the call).
func carriedHistory(tx *badger.Txn, id string, found bool, r record) (carried, error) {
	if found && r.inline {
		return carried{history: bytes.Clone(r.history)}, nil
	}
	it, err := tx.Get(historyKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return carried{}, nil
	}
	if err != nil {
		return carried{}, err
	}
	h, err := it.ValueCopy(nil)
	return carried{history: h, fromH: true}, err
}
