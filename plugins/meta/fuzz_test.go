package meta_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/meta"
	"github.com/neksio/neksio/plugins/sdk"
)

// FuzzHandleWebhook feeds signed bodies: parsing must never panic, and
// must answer either events or a classified error.
func FuzzHandleWebhook(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(f, err)
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"object":"page","entry":[{"id":1,"messaging":[{"message":null,"read":{}}]}]}`))
	f.Add([]byte(`{"object":"instagram","entry":[{"changes":[{"field":"comments","value":null}]}]}`))
	c := meta.New()
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := c.HandleWebhook(context.Background(), signedRequest(body))
		if err != nil {
			require.Contains(t, []sdk.ErrorClass{sdk.ClassMalformed}, sdk.ClassOf(err), "%v", err)
			var e *sdk.Error
			require.ErrorAs(t, err, &e)
			return
		}
		require.NotNil(t, res)
		for _, ev := range res.Events {
			require.NotEmpty(t, ev.Platform)
			switch ev.Kind {
			case sdk.EventMessage:
				require.NotNil(t, ev.Message)
				require.NotEmpty(t, ev.Message.ExternalID)
			case sdk.EventStatus:
				require.NotNil(t, ev.Status)
			default:
				t.Fatalf("unexpected event kind %q", ev.Kind)
			}
		}
	})
}
