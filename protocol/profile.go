package protocol

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Profile is one customer as the control plane stores it and agents cache
// it. Attributes are typed: float64 for numbers, bool for yes/no values,
// string otherwise; a missing value is an absent key, never a zero.
// Derived holds fields computed by the control plane (value tier,
// lifecycle stage, RFM, CLV, churn risk); rules see Attributes and Derived
// together as profile.<name>, Derived winning on a clash.
//
// Region keeps the customer's home region in every key from the start (a
// cluster serves one region, sites and agents sit in sub-regions of it);
// agents prefetch the profiles of their region.
type Profile struct {
	ID     string `json:"id"`
	Region string `json:"region,omitempty"`
	// Consents records, per channel (or "all"), whether the customer
	// agreed to marketing contact there. A policy with requireConsent
	// contacts only customers with consent on the channel or on "all".
	Consents map[string]bool `json:"consents,omitempty"`
	// DoNotDisturb stops every contact, transactional ones included.
	DoNotDisturb bool           `json:"doNotDisturb,omitempty"`
	Attributes   map[string]any `json:"attributes,omitempty"`
	Derived      map[string]any `json:"derived,omitempty"`
	// Index is the Raft index of the profile's last change.
	Index uint64 `json:"index,omitempty"`
}

// Profile limits, checked by Validate.
const (
	MaxProfileAttributes = 256
	MaxAttributeName     = 128
	MaxAttributeValue    = 4096
)

// Validate checks a profile as a writer supplies it.
func (p *Profile) Validate() error {
	if !ValidAgentID(p.ID) {
		return fmt.Errorf("customer id %q: 1 to 128 ASCII letters, digits, '-', '_' or '.'", p.ID)
	}
	if p.Region != "" && !ValidAgentID(p.Region) {
		return fmt.Errorf("customer %s: region %q: 1 to 128 ASCII letters, digits, '-', '_' or '.'", p.ID, p.Region)
	}
	if len(p.Attributes)+len(p.Derived) > MaxProfileAttributes {
		return fmt.Errorf("customer %s: more than %d attributes", p.ID, MaxProfileAttributes)
	}
	for _, m := range []map[string]any{p.Attributes, p.Derived} {
		for k, v := range m {
			if k == "" || len(k) > MaxAttributeName || !utf8.ValidString(k) {
				return fmt.Errorf("customer %s: attribute name %q: 1 to %d bytes of UTF-8", p.ID, k, MaxAttributeName)
			}
			switch v := v.(type) {
			case float64, bool:
			case string:
				if len(v) > MaxAttributeValue {
					return fmt.Errorf("customer %s: attribute %s longer than %d bytes", p.ID, k, MaxAttributeValue)
				}
			default:
				return fmt.Errorf("customer %s: attribute %s: %T is not a number, boolean or string", p.ID, k, v)
			}
		}
	}
	for ch := range p.Consents {
		if ch != ChannelAll && !slices.Contains(KnownChannels, ch) {
			return fmt.Errorf("customer %s: consent for unknown channel %q", p.ID, ch)
		}
	}
	return nil
}

// piiNames are attribute names (compared case-insensitively, ignoring '_'
// and '-') that hold personal data: masked unless the caller's role may
// see it, never logged, and always kept as text on import (a phone number
// is not a number).
var piiNames = map[string]bool{
	"name": true, "fullname": true, "firstname": true, "lastname": true, "surname": true,
	"phone": true, "mobile": true, "msisdn": true, "phonenumber": true, "tel": true,
	"email": true, "address": true, "street": true,
	"idnumber": true, "idcard": true, "nationalid": true, "passport": true, "ssn": true,
	"birthdate": true, "dateofbirth": true, "dob": true,
}

// IsPII reports whether an attribute named name holds personal data.
func IsPII(name string) bool {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r != '_' && r != '-' && r != ' ' {
			b.WriteRune(r)
		}
	}
	return piiNames[b.String()]
}

// MaskPII returns v masked for display: the first and last quarter of its
// characters kept (at most 3 each), the rest replaced by '*': "13800000001"
// becomes "13*******01", "Li Wei" becomes "L****i".
func MaskPII(v string) string {
	r := []rune(v)
	keep := min(len(r)/4, 3)
	for i := keep; i < len(r)-keep; i++ {
		r[i] = '*'
	}
	return string(r)
}

// Masked returns a copy of p with every PII attribute masked.
func (p *Profile) Masked() *Profile {
	q := *p
	q.Attributes = make(map[string]any, len(p.Attributes))
	for k, v := range p.Attributes {
		if IsPII(k) {
			v = MaskPII(fmt.Sprint(v))
		}
		q.Attributes[k] = v
	}
	return &q
}

// DecodeProfileJSON decodes one profile like DecodeProfilesJSON decodes an
// array (the agent reads one per decision); ok false means: decode it with
// encoding/json.
func DecodeProfileJSON(b []byte) (p Profile, ok bool) {
	return DecodeProfileJSONStrings(b, nil)
}

// DecodeProfileJSONStrings is DecodeProfileJSON taking attribute names from
// strs (see Strings).
func DecodeProfileJSONStrings(b []byte, strs *Strings) (p Profile, ok bool) {
	d := jsonScanner{b: b, strs: strs}
	if !d.profile(&p) || !d.end() {
		return Profile{}, false
	}
	return p, true
}
