package link

import (
	"errors"
	"fmt"
	"testing"

	"github.com/quic-go/quic-go"

	"touchpoint.dev/touchpoint/protocol/api"
)

func TestRefusal_FromErrorFramesAndCloseReasons(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code api.Code
		ok   bool
	}{
		{"error frame", fmt.Errorf("hello refused: %w", &api.Error{Code: "revoked", Message: "x"}), "revoked", true},
		{"other code", &api.Error{Code: api.CodeUnavailable}, api.CodeUnavailable, false},
		{"close with code and message", fmt.Errorf("read: %w", &quic.ApplicationError{Remote: true, ErrorCode: 1, ErrorMessage: "revoked: this agent was revoked"}), "revoked", true},
		{"close with a bare code", &quic.ApplicationError{Remote: true, ErrorCode: 1, ErrorMessage: "unauthorized"}, api.CodeUnauthorized, true},
		{"our own close", &quic.ApplicationError{Remote: false, ErrorMessage: "revoked"}, "", false},
		{"other reason", &quic.ApplicationError{Remote: true, ErrorMessage: "node shutting down"}, "", false},
		{"plain error", errors.New("revoked"), "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ae, ok := refusal(tc.err)
			if ok != tc.ok || (tc.code != "" && (ae == nil || ae.Code != tc.code)) {
				t.Fatalf("refusal(%v) = %v, %v", tc.err, ae, ok)
			}
		})
	}
}
