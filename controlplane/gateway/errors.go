package gateway

import (
	"context"
	"errors"

	"touchpoint.dev/touchpoint/controlplane/store"
	"touchpoint.dev/touchpoint/protocol/api"
)

// storeError turns a consensus error into a code an agent can act on.
func storeError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotLeader), errors.Is(err, store.ErrNoLeader), errors.Is(err, errNoLeader):
		return api.Errorf(api.CodeNoLeader, "no leader is available right now; retry shortly")
	case errors.Is(err, store.ErrOutcomeUnknown):
		return api.Errorf(api.CodeNoLeader, "%v; resending is safe", err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return api.Errorf(api.CodeTimeout, "%v", err)
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae
	}
	return api.Errorf(api.CodeInternal, "%v", err)
}

var errNoLeader = errors.New("no leader gateway known")
