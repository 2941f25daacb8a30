package fsm

import "encoding/binary"

// Key layout. Every key starts with a one-letter family and a slash.
//
//	m/applied              applied index, 8 bytes big endian
//	m/cluster              clusterInfo JSON
//	m/chgfloor             lowest index the change feed still holds, 8 bytes
//	m/lastchange           index of the newest configuration change, 8 bytes
//	m/lasterase            index of the newest customer erasure, 8 bytes
//	c/<Kind>/<id>          index (8 bytes) + canonical document JSON
//	x/<index 8><seq 4>     api.Change JSON (change feed), or a derive
//	                       entry's updates (0x02 + its payload: one
//	                       change per customer, apply_derive.go)
//	a/<index 8><seq 4>     api.AuditEntry JSON
//	t/<sha256 hex>         storedToken JSON
//	n/<node id>            NodeRegister JSON
//	r/<request id>         stored Result JSON (deduplication)
//	q/<index 8><seq 4>     request id applied at index (for pruning r/)
//	p/<customer id>        index (8 bytes) + protocol.Profile JSON (with
//	                       its index), see apply_customers.go
//	s/<region>/<id>        empty: the customers of a region in id order;
//	                       a customer without a region is s//<id>
//	d/<customer id>        index (8 bytes) + protocol.DerivedUpdate JSON:
//	                       what jobs computed for the customer, overlaid on
//	                       p/<id> by every read (apply_derive.go)
//	o/<offer id>           presented contacts of the offer, 8 bytes
//	                       (volumes.go)
//	e/c/<campaign id>      erasedCounts JSON: the campaign counts of the
//	                       customers erased so far (erased_counts.go)
//	e/p/<customer id>      empty: the customer's erase is still moving
//	                       events in continuations (erased_counts.go)
//
// The contact ledger's families (h/, k/, v/) are described in
// apply_events.go, the fleet's (m/ca, m/gossip, j/, g/ for the agent
// registry) in apply_fleet.go. A new family takes a letter none of these
// uses.
var (
	keyApplied  = []byte("m/applied")
	keyCluster  = []byte("m/cluster")
	keyChgFloor = []byte("m/chgfloor")
	// keyLedgerReopen is the index of the last restore that reopened the
	// agents' event sequences (Restored.ReopenSequences).
	keyLedgerReopen = []byte("m/ledger-reopen")
	// keyLastChange: the index of the newest configuration change, 8 bytes.
	keyLastChange = []byte("m/lastchange")
	// keyLastErase: the index of the newest customer erasure, 8 bytes.
	keyLastErase = []byte("m/lasterase")

	prefixCatalog = []byte("c/")
	prefixChange  = []byte("x/")
	prefixAudit   = []byte("a/")
	prefixToken   = []byte("t/")
	prefixNode    = []byte("n/")
	prefixRequest = []byte("r/")
	prefixReqIdx  = []byte("q/")
	prefixProfile = []byte("p/")
	prefixRegion  = []byte("s/")
	prefixDerived = []byte("d/")
)

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func catalogKey(kind, id string) []byte {
	return append(append(append([]byte{}, prefixCatalog...), kind+"/"...), id...)
}

func catalogKindPrefix(kind string) []byte {
	return append(append([]byte{}, prefixCatalog...), kind+"/"...)
}

// seqKey is prefix + index + seq: ordered by index, then by position within
// the entry.
func seqKey(prefix []byte, index uint64, seq uint32) []byte {
	k := make([]byte, 0, len(prefix)+12)
	k = append(k, prefix...)
	k = binary.BigEndian.AppendUint64(k, index)
	return binary.BigEndian.AppendUint32(k, seq)
}

func strKey(prefix []byte, s string) []byte {
	return append(append([]byte{}, prefix...), s...)
}
