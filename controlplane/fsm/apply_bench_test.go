package fsm_test

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"

	"touchpoint.dev/touchpoint/controlplane/fsm"
	"touchpoint.dev/touchpoint/protocol"
)

// benchFSM is a started FSM in a temporary directory, closed at the end.
func benchFSM(b *testing.B) *fsm.FSM {
	f, err := fsm.Open(fsm.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	f.Started()
	return f
}

// BenchmarkFSM_CatalogApply1000: one node applying a 1,000-document
// catalogue apply (every document new), as each of three nodes does for a
// bulk apply.
func BenchmarkFSM_CatalogApply1000(b *testing.B) {
	f := benchFSM(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		docs := make([]fsm.CatalogDoc, 1000)
		for j := range docs {
			id := fmt.Sprintf("bench-%d-%d", i, j)
			docs[j] = fsm.CatalogDoc{Kind: "Offer", ID: id, Doc: []byte(fmt.Sprintf(
				`{"kind":"Offer","id":%q,"name":"bench offer","category":"upsell","value":%d,"cost":3,"channels":["kiosk","ivr"],"eligibility":"profile.tenureMonths >= 6"}`, id, j))}
		}
		data := encode(b, command{typ: fsm.CmdCatalogApply, rid: fmt.Sprintf("r%d", i), payload: fsm.CatalogApply{Docs: docs}}, uint64(i+1))
		r := f.Apply(&raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: data}).(*fsm.Result)
		if r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}

// benchProfiles are n profiles shaped like the import benchmark's rows.
func benchProfiles(n, from int) []protocol.Profile {
	ps := make([]protocol.Profile, n)
	for j := range ps {
		i := from + j
		ps[j] = protocol.Profile{ID: fmt.Sprintf("C%d", i), Region: "sh-pudong", Attributes: map[string]any{
			"name": fmt.Sprintf("Customer %d", i), "phone": fmt.Sprintf("138%08d", i), "tenureMonths": float64(1 + i%120),
			"voiceMinutes": float64(i * 7 % 2000), "dataMB": float64(i * 13 % 30000), "sms": float64(i % 300),
			"plan": "family-88", "arpu": 38 + float64(i%9000)/100}}
	}
	return ps
}

// BenchmarkFSM_CustomersUpsert5000 and BenchmarkFSM_CustomersDerive5000:
// one node applying one entry of 5,000 profiles (new ones; the segment
// scores of stored ones), the per-node cost of an import and of a
// segmentation run.
func BenchmarkFSM_CustomersUpsert5000(b *testing.B) {
	f := benchFSM(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		data := encode(b, upsert(benchProfiles(5000, i*5000)...), uint64(i+1))
		if r := f.Apply(&raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: data}).(*fsm.Result); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*5000)/1000, "µs/profile")
}

func BenchmarkFSM_CustomersDerive5000(b *testing.B) {
	f := benchFSM(b)
	idx := uint64(0)
	for i := 0; i < b.N; i++ {
		idx++
		if r := f.Apply(&raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: encode(b, upsert(benchProfiles(5000, i*5000)...), idx)}).(*fsm.Result); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
	ds := make([][]byte, b.N)
	for i := range ds {
		d := make([]fsm.DerivedFields, 5000)
		for j := range d {
			d[j] = derived(fmt.Sprintf("C%d", i*5000+j), map[string]any{
				"rfmRecency": 3.0, "rfmFrequency": 4.0, "rfmMonetary": 5.0, "rfm": "345", "rfmSegment": "loyal",
				"valueTier": "medium", "lifecycleStage": "mature", "clv": 812.5, "expectedPurchases": 2.1, "pAlive": 0.8})
		}
		ds[i] = encode(b, derive(idx, d...), idx+uint64(i)+1)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		idx++
		if r := f.Apply(&raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: ds[i]}).(*fsm.Result); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*5000)/1000, "µs/profile")
}
