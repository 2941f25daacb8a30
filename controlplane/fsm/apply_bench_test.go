package fsm_test

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"

	"touchpoint.dev/touchpoint/controlplane/fsm"
)

// BenchmarkFSM_CatalogApply1000: one node applying a 1,000-document
// catalogue apply (every document new), as each of three nodes does for a
// bulk apply.
func BenchmarkFSM_CatalogApply1000(b *testing.B) {
	f, err := fsm.Open(fsm.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	f.Started()
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
