package whatsapp_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/whatsapp"
)

// FuzzHandleWebhook feeds signed bodies to HandleWebhook: it must never
// panic, and must answer either well-formed events or a classified error.
func FuzzHandleWebhook(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(``))
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[null,1,"x",[]]}}]}]}`))

	c := whatsapp.New()
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := c.HandleWebhook(context.Background(), signedRequest(body))
		if err != nil {
			if res != nil {
				t.Fatalf("error with a result: %v", err)
			}
			// The signature is valid, so only the body can be at fault.
			if sdk.ClassOf(err) != sdk.ClassMalformed {
				t.Fatalf("error class %q, want malformed: %v", sdk.ClassOf(err), err)
			}
			return
		}
		if res == nil {
			t.Fatal("nil result without error")
		}
		for i, ev := range res.Events {
			if ev == nil || ev.Platform != "whatsapp" {
				t.Fatalf("event %d: %+v", i, ev)
			}
			switch ev.Kind {
			case sdk.EventMessage:
				if ev.Message == nil || ev.Message.ExternalID == "" || ev.Message.Type == "" {
					t.Fatalf("event %d: incomplete message %+v", i, ev.Message)
				}
			case sdk.EventStatus:
				if ev.Status == nil || ev.Status.MessageExternalID == "" {
					t.Fatalf("event %d: incomplete status %+v", i, ev.Status)
				}
				if ev.Status.Status == sdk.StatusFailed && ev.Status.Error == nil {
					t.Fatalf("event %d: failed status without error", i)
				}
			case sdk.EventAccount:
				if ev.Account == nil || ev.Account.Type == "" {
					t.Fatalf("event %d: incomplete account event %+v", i, ev.Account)
				}
			default:
				t.Fatalf("event %d: kind %q", i, ev.Kind)
			}
		}
	})
}
