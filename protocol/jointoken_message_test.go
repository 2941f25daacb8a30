package protocol_test

import (
	"testing"

	"touchpoint.dev/touchpoint/protocol"
)

// The refusal of a string that is no join token says what a join token
// looks like, not what the string starts with (it never quotes the input).
func TestParseJoinToken_NotATokenSaysWhatATokenStartsWith(t *testing.T) {
	_, err := protocol.ParseJoinToken("garbage")
	if err == nil {
		t.Fatal("garbage parsed")
	}
	if got, want := err.Error(), `join token: not a join token: a join token starts with "tpj1."`; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
}
