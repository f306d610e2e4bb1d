package sdktest

import (
	"testing"

	"github.com/neksio/neksio/plugins/sdk"
)

func TestEventKey(t *testing.T) {
	t.Parallel()
	msg := &sdk.Event{Kind: sdk.EventMessage, Platform: "p", AccountID: "a",
		Message: &sdk.Message{ExternalID: "m1", ThreadID: "u1", Action: sdk.ActionEdited}}
	if got := EventKey(msg); got != "message|p|a|m1|edited" {
		t.Errorf("EventKey(message) = %q", got)
	}
	for name, e := range map[string]*sdk.Event{
		"message without id":     {Kind: sdk.EventMessage, AccountID: "a", Message: &sdk.Message{ThreadID: "u1"}},
		"message without thread": {Kind: sdk.EventMessage, AccountID: "a", Message: &sdk.Message{ExternalID: "m1"}},
		"no account":             {Kind: sdk.EventStatus, Status: &sdk.StatusUpdate{MessageExternalID: "m1"}},
		"no payload":             {Kind: sdk.EventNotify, AccountID: "a"},
		"unknown kind":           {Kind: "other", AccountID: "a"},
	} {
		if got := EventKey(e); got != "" {
			t.Errorf("EventKey(%s) = %q, want empty", name, got)
		}
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	got := &sdk.Event{Kind: sdk.EventStatus, Platform: "p", AccountID: "a",
		Status: &sdk.StatusUpdate{MessageExternalID: "m1", Status: sdk.StatusRead, RecipientID: "u1"}}
	for want, ok := range map[*sdk.Event]bool{
		{}:                       true,
		{Kind: sdk.EventStatus}:  true,
		{Kind: sdk.EventMessage}: false,
		{Status: &sdk.StatusUpdate{Status: sdk.StatusRead}}:                 true,
		{Status: &sdk.StatusUpdate{Status: sdk.StatusFailed}}:               false,
		{Message: &sdk.Message{}}:                                           false,
		{AccountID: "b"}:                                                    false,
		{Status: &sdk.StatusUpdate{MessageExternalID: "m1"}, Platform: "p"}: true,
	} {
		if Match(want, got) != ok {
			t.Errorf("Match(%+v) = %v, want %v", want, !ok, ok)
		}
	}
}

func TestCorruptChangesOneCharacter(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"", "0", "sha256=00", "abc"} {
		c := corrupt(v)
		if c == v || (v != "" && len(c) != len(v)) {
			t.Errorf("corrupt(%q) = %q", v, c)
		}
	}
}
