package decide

// FNV-1a 64-bit parameters (hash/fnv's, inlined so that a decision hashes
// without allocating).
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

func fnv1a(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

// fmix64 is MurmurHash3's 64-bit finaliser. FNV-1a alone mixes its last
// bytes only into the low bits: campaigns "a" and "b" would put every
// customer in nearly the same bucket of both.
func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// ControlBucket places a (customer, campaign) pair in [0, 100): the FNV-1a
// 64-bit hash of customerID, one zero byte and campaignID, passed through
// MurmurHash3's fmix64 finaliser; its top 53 bits divided by 2^53, times
// 100. Every agent (and the control plane, when it measures uplift)
// computes the same bucket for the same pair, and a customer's buckets in
// two campaigns are independent.
func ControlBucket(customerID, campaignID string) float64 {
	h := fnv1a(fnvOffset64, customerID)
	h = fnv1a(h, "\x00")
	h = fnv1a(h, campaignID)
	return float64(fmix64(h)>>11) / (1 << 53) * 100
}

// InControlGroup reports whether the customer is held out of the
// campaign: its bucket is below percent. 0 (or less) holds nobody out, 100
// (or more) everybody.
func InControlGroup(customerID, campaignID string, percent float64) bool {
	if percent <= 0 {
		return false
	}
	if percent >= 100 {
		return true
	}
	return ControlBucket(customerID, campaignID) < percent
}
