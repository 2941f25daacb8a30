package catalog_test

import (
	"fmt"
	"strings"
	"testing"

	"touchpoint.dev/touchpoint/controlplane/catalog"
)

// BenchmarkParse_1000Offers: one batched apply's worth of documents, as
// the leader parses and validates them.
func BenchmarkParse_1000Offers(b *testing.B) {
	var sb strings.Builder
	sb.WriteByte('[')
	for i := 0; i < 1000; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"kind":"Offer","id":"bench-%d","name":"bench offer %d","category":"upsell","value":%d,"cost":3,"channels":["kiosk","ivr"],"eligibility":"profile.tenureMonths >= %d"}`, i, i, i%997, i%24)
	}
	sb.WriteByte(']')
	body := []byte(sb.String())
	p := catalog.NewParser()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		if _, err := p.Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}
