package tiktok_test

import (
	"testing"

	"github.com/neksio/neksio/plugins/sdk/sdktest"
	"github.com/neksio/neksio/plugins/tiktok"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	sdktest.Conformance(t, tiktok.New())
}
