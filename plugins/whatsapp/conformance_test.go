package whatsapp_test

import (
	"testing"

	"github.com/neksio/neksio/plugins/sdk/sdktest"
	"github.com/neksio/neksio/plugins/whatsapp"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	sdktest.Conformance(t, whatsapp.New())
}
