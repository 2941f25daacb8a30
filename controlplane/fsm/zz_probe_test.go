package fsm_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"touchpoint.dev/touchpoint/controlplane/fsm"
)

func TestProbeBigBatch(t *testing.T) {
	f := openFSM(t, fsm.Config{})
	mk := func(prefix string, n, size int) command {
		docs := make([]fsm.CatalogDoc, n)
		for i := range docs {
			id := fmt.Sprintf("%s-%05d", prefix, i)
			docs[i] = fsm.CatalogDoc{Kind: "Plan", ID: id, Doc: mustJSON(map[string]any{"kind": "Plan", "id": id, "monthlyFee": 1, "description": strings.Repeat("d", size)})}
		}
		return catalogApply(prefix, docs...)
	}
	a := mk("a", 1800, 800)
	b := mk("b", 5000, 450)
	la, lb := logAt(t, 1, a), logAt(t, 2, b)
	t.Logf("a %d bytes, b %d bytes", len(la.Data), len(lb.Data))
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("panic: %.300v", r)
		}
	}()
	out := f.ApplyBatch([]*raft.Log{la, lb})
	for _, v := range out {
		r := asResult(t, v)
		t.Logf("%d err=%v", r.Index, r.Err)
	}
}
