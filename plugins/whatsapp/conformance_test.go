package whatsapp_test

import (
	"testing"

	"github.com/neksio/neksio/plugins/whatsapp"
	"github.com/neksio/neksio/plugins/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	sdktest.Conformance(t, whatsapp.New())
}
