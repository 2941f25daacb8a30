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

// ControlBucket places a (customer, campaign) pair in [0, 100): the top 53
// bits of the FNV-1a 64-bit hash of customerID, one zero byte and
// campaignID, divided by 2^53 and scaled to 100. Every agent (and the
// control plane, when it measures uplift) computes the same bucket for the
// same pair, and a customer's buckets in two campaigns are independent.
func ControlBucket(customerID, campaignID string) float64 {
	h := fnv1a(fnvOffset64, customerID)
	h = fnv1a(h, "\x00")
	h = fnv1a(h, campaignID)
	return float64(h>>11) / (1 << 53) * 100
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
