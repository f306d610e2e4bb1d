package graph

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/core/auth"
	"github.com/neksio/neksio/core/tenant"
)

// The viewer's sentinels are classified in core/apperr and mapped here,
// in the one place, to the codes and words clients have always seen.
func TestPresentClassifiedErrors(t *testing.T) {
	present := ErrorPresenter(slog.New(slog.NewTextHandler(io.Discard, nil)))
	cases := []struct {
		err           error
		code, message string
	}{
		{tenant.ErrUnauthenticated, "UNAUTHENTICATED", "authentication required"},
		{fmt.Errorf("graph: %w", auth.ErrInvalidKey), "UNAUTHENTICATED", "authentication required"},
		{fmt.Errorf("%w: role ADMIN required, viewer has AGENT", tenant.ErrForbidden), "FORBIDDEN",
			"forbidden: forbidden: role ADMIN required, viewer has AGENT"},
		{apperr.Invalid("text", "too long"), "BAD_USER_INPUT", "too long"},
		// A transient classification changes nothing a client sees.
		{apperr.Retry(apperr.NotFound("post target"), 0), "NOT_FOUND", "post target not found"},
		{apperr.Retry(fmt.Errorf("database is locked"), 0), "INTERNAL", "internal error"},
	}
	for _, c := range cases {
		got := present(context.Background(), c.err)
		if got.Extensions["code"] != c.code || got.Message != c.message {
			t.Errorf("%v: got %v %q, want %s %q", c.err, got.Extensions["code"], got.Message, c.code, c.message)
		}
	}
}
