package integration

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"touchpoint.dev/touchpoint/controlplane"
	"touchpoint.dev/touchpoint/controlplane/cptest"
	"touchpoint.dev/touchpoint/protocol/api"
)

// A node with an empty data directory and neither --bootstrap nor --join
// belongs to no cluster and would wait for ever: New refuses it, saying
// what to give.
func TestStartup_EmptyDataDirNeedsBootstrapOrJoin(t *testing.T) {
	_, err := controlplane.New(controlplane.Config{ID: "n1", DataDir: t.TempDir(),
		RaftAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Logger: cptest.Logger(t)})
	if err == nil || !strings.Contains(err.Error(), "--bootstrap") || !strings.Contains(err.Error(), "--join") {
		t.Fatalf("New on an empty data directory without bootstrap or join: %v", err)
	}
}

// A join the cluster refuses (a wrong token) can never succeed: Run ends
// with the refusal instead of retrying for ever.
func TestStartup_RefusedJoinEndsRun(t *testing.T) {
	c := cptest.New(t, 1)
	s, err := controlplane.New(controlplane.Config{ID: "n9", DataDir: t.TempDir(),
		RaftAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Join: c.Nodes[0].URL(), Token: "tp_wrong",
		Logger: cptest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = s.Run(ctx)
	var ae *api.Error
	if ctx.Err() != nil || !errors.As(err, &ae) || ae.Code != api.CodeUnauthorized {
		t.Fatalf("Run with a refused join: %v (ctx %v)", err, ctx.Err())
	}
}
