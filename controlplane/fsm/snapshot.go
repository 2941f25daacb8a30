package fsm

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

// Snapshot stream format, version 1:
//
//	"TPSNAP01"                       8 bytes magic
//	uvarint n, n bytes               header JSON (snapshotHeader)
//	repeated: uvarint klen, key, uvarint vlen, value   (klen > 0)
//	uvarint 0                        end of records
//	4 bytes                          CRC-32C of everything before, big endian
var snapshotMagic = []byte("TPSNAP01")

const (
	maxSnapshotKey   = 64 << 10
	maxSnapshotValue = 256 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type snapshotHeader struct {
	Format    int    `json:"format"`
	Applied   uint64 `json:"applied"`
	ClusterID string `json:"clusterId"`
	Epoch     uint64 `json:"epoch"`
}

// snapshot is a consistent read view of the state taken in FSM.Snapshot;
// Persist writes it out on raft's snapshot goroutine.
type snapshot struct {
	f       *FSM
	tx      *badger.Txn
	applied uint64
	once    bool
}

// Snapshot takes a read view; it does no I/O. The view (and a shared hold
// on the database) lasts until Release.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	if f.db == nil {
		f.mu.RUnlock()
		return nil, errors.New("fsm is closed")
	}
	return &snapshot{f: f, tx: f.db.NewTransaction(false), applied: f.applied.Load()}, nil
}

// Persist streams the view into the sink.
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.writeTo(sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot at %d: %w", s.applied, err)
	}
	return sink.Close()
}

// Release ends the view.
func (s *snapshot) Release() {
	if s.once {
		return
	}
	s.once = true
	s.tx.Discard()
	s.f.mu.RUnlock()
}

func (s *snapshot) writeTo(w io.Writer) error {
	crc := crc32.New(crcTable)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 256<<10)
	var ci ClusterInfo
	if _, err := getJSON(s.tx, keyCluster, &ci); err != nil {
		return err
	}
	hdr, _ := json.Marshal(snapshotHeader{Format: 1, Applied: s.applied, ClusterID: ci.ClusterID, Epoch: ci.Epoch})
	var buf [binary.MaxVarintLen64]byte
	putBytes := func(b []byte) error {
		n := binary.PutUvarint(buf[:], uint64(len(b)))
		if _, err := bw.Write(buf[:n]); err != nil {
			return err
		}
		_, err := bw.Write(b)
		return err
	}
	if _, err := bw.Write(snapshotMagic); err != nil {
		return err
	}
	if err := putBytes(hdr); err != nil {
		return err
	}
	it := s.tx.NewIterator(badger.DefaultIteratorOptions)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		if err := putBytes(item.Key()); err != nil {
			return err
		}
		if err := item.Value(putBytes); err != nil {
			return err
		}
	}
	if err := bw.WriteByte(0); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc.Sum32())
	_, err := w.Write(sum[:])
	return err
}

// WriteSnapshot writes a consistent snapshot of the current state to w (for
// `cluster snapshot save`).
func (f *FSM) WriteSnapshot(w io.Writer) error {
	s, err := f.Snapshot()
	if err != nil {
		return err
	}
	defer s.Release()
	return s.(*snapshot).writeTo(w)
}

// snapshotReader decodes the stream while checksumming it.
type snapshotReader struct {
	r   *bufio.Reader
	crc hash.Hash32
	off int64 // bytes read, for errors
}

func (s *snapshotReader) ReadByte() (byte, error) {
	b, err := s.r.ReadByte()
	if err == nil {
		s.off++
		s.crc.Write([]byte{b})
	}
	return b, err
}

func (s *snapshotReader) full(n uint64) ([]byte, error) {
	b := make([]byte, n)
	m, err := io.ReadFull(s.r, b)
	s.off += int64(m)
	if err != nil {
		return nil, err
	}
	s.crc.Write(b)
	return b, nil
}

// truncated says where a stream that stops early stops (where: "inside
// record 7 …"), when err is the end of the stream; else it is nil.
func (s *snapshotReader) truncated(err error, where string) error {
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return fmt.Errorf("snapshot is truncated: the file ends after %d bytes, %s", s.off, where)
}

// recordName names record n (from 1) by number and, when its key is read,
// the key's printable start: keys hold binary sequence numbers, which an
// error message should not dump.
func recordName(n int, key []byte) string {
	name := fmt.Sprintf("record %d", n)
	if key == nil {
		return name
	}
	i := 0
	for i < len(key) && i < 32 && key[i] >= 0x20 && key[i] < 0x7f {
		i++
	}
	if i == 0 {
		return name
	}
	more := ""
	if i < len(key) {
		more = "…"
	}
	return fmt.Sprintf("%s (key %q%s)", name, key[:i], more)
}

func (s *snapshotReader) bytes(limit uint64) ([]byte, error) {
	n, err := binary.ReadUvarint(s)
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("record of %d bytes exceeds the limit of %d", n, limit)
	}
	return s.full(n)
}

// ReadSnapshotHeader checks a snapshot stream's magic and returns its header
// and a reader positioned at the records.
func readHeader(rc io.Reader) (*snapshotReader, snapshotHeader, error) {
	sr := &snapshotReader{r: bufio.NewReaderSize(rc, 256<<10), crc: crc32.New(crcTable)}
	var h snapshotHeader
	magic, err := sr.full(uint64(len(snapshotMagic)))
	if err != nil || string(magic) != string(snapshotMagic) {
		return nil, h, errors.New("not a Touchpoint snapshot (bad magic)")
	}
	hb, err := sr.bytes(1 << 20)
	if err != nil {
		if terr := sr.truncated(err, "inside the header"); terr != nil {
			return nil, h, terr
		}
		return nil, h, fmt.Errorf("snapshot header: %w", err)
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, h, fmt.Errorf("snapshot header: %w", err)
	}
	if h.Format != 1 {
		return nil, h, fmt.Errorf("snapshot format %d; this node reads 1", h.Format)
	}
	return sr, h, nil
}

// VerifySnapshot reads a whole snapshot stream and checks its structure and
// checksum without touching the state.
func VerifySnapshot(r io.Reader) error {
	sr, _, err := readHeader(r)
	if err != nil {
		return err
	}
	return sr.records(func(_, _ []byte) error { return nil })
}

func (s *snapshotReader) records(fn func(k, v []byte) error) error {
	for n := 1; ; n++ {
		start := s.off
		k, err := s.bytes(maxSnapshotKey)
		if err != nil {
			where := "inside " + recordName(n, nil)
			if errors.Is(err, io.EOF) && s.off == start {
				where = fmt.Sprintf("after record %d, before the end marker", n-1)
			}
			if terr := s.truncated(err, where); terr != nil {
				return terr
			}
			return fmt.Errorf("snapshot %s: %w", recordName(n, nil), err)
		}
		if len(k) == 0 {
			break
		}
		v, err := s.bytes(maxSnapshotValue)
		if err != nil {
			if terr := s.truncated(err, "inside "+recordName(n, k)); terr != nil {
				return terr
			}
			return fmt.Errorf("snapshot %s: %w", recordName(n, k), err)
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	want := s.crc.Sum32()
	var sum [4]byte
	m, err := io.ReadFull(s.r, sum[:])
	s.off += int64(m)
	if err != nil {
		where := "inside the checksum"
		if m == 0 {
			where = "before the checksum"
		}
		if terr := s.truncated(err, where); terr != nil {
			return terr
		}
		return fmt.Errorf("snapshot checksum: %w", err)
	}
	if got := binary.BigEndian.Uint32(sum[:]); got != want {
		return fmt.Errorf("snapshot checksum mismatch: stream says %08x, content is %08x", got, want)
	}
	return nil
}

// Restore replaces the state with a snapshot. It never restores in place:
// the snapshot is loaded into a new directory, made durable, and only then
// does CURRENT point at it and the new database replace the old one. While
// raft is starting, a snapshot no newer than the state already on disk is
// skipped (the badger state is itself durable and includes everything up to
// its applied index).
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	sr, hdr, err := readHeader(rc)
	if err != nil {
		return err
	}
	if f.startup.Load() && hdr.Applied <= f.applied.Load() {
		f.log.Info("skip snapshot restore on start: state is newer", "snapshot", hdr.Applied, "applied", f.applied.Load())
		_, _ = io.Copy(io.Discard, rc)
		return nil
	}
	gen := f.gen + 1
	dir := genDir(f.cfg.Dir, gen)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clear %s: %w", dir, err)
	}
	db, err := f.openDB(gen)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		_ = db.Close()
		_ = os.RemoveAll(dir)
		return err
	}
	wb := db.NewWriteBatch()
	var applied uint64
	err = sr.records(func(k, v []byte) error {
		if string(k) == string(keyApplied) && len(v) == 8 {
			applied = u64From(v)
		}
		return wb.Set(k, v)
	})
	if err != nil {
		wb.Cancel()
		return fail(fmt.Errorf("restore snapshot: %w", err))
	}
	if err := wb.Flush(); err != nil {
		return fail(fmt.Errorf("restore snapshot: write: %w", err))
	}
	if err := db.Sync(); err != nil {
		return fail(fmt.Errorf("restore snapshot: sync: %w", err))
	}
	if err := writeCurrent(f.cfg.Dir, gen); err != nil {
		return fail(err)
	}
	f.mu.Lock()
	old, oldGen := f.db, f.gen
	f.db, f.gen = db, gen
	f.applied.Store(applied)
	// Everything may have changed: every follower of the feed is behind.
	f.lastChange.Store(applied)
	f.fleetGen.Add(1)
	f.mu.Unlock()
	if old != nil {
		if err := old.Close(); err != nil {
			f.log.Warn("close replaced state", "error", err)
		}
	}
	if err := os.RemoveAll(genDir(f.cfg.Dir, oldGen)); err != nil {
		f.log.Warn("remove replaced state", "error", err)
	}
	f.log.Info("restored snapshot", "applied", applied, "cluster", hdr.ClusterID)
	f.broadcast()
	return nil
}
