package graph

import (
	"context"
	"errors"
	"log/slog"

	"entgo.io/ent/privacy"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/neksio/neksio/core/apperr"
	"github.com/neksio/neksio/ent"
)

// codeOf maps every error the resolvers can return to the client-facing
// code. It is the one place that does.
func codeOf(err error) apperr.Code {
	var ae *apperr.Error
	var se *apperr.Sentinel
	var ve *ent.ValidationError
	var ce *ent.ConstraintError
	switch {
	case errors.As(err, &ae):
		// Every domain code, WINDOW_CLOSED (a reply the platform would
		// refuse now) included, with its message.
		return ae.Code
	case errors.As(err, &se):
		// tenant.ErrUnauthenticated, tenant.ErrForbidden,
		// auth.ErrInvalidKey: worded below from their code.
		return se.Code()
	case ent.IsNotFound(err):
		return apperr.CodeNotFound
	// A privacy denial is what another workspace's object looks like from
	// here: report it as absent, never as "exists but forbidden".
	case errors.Is(err, privacy.Deny):
		return apperr.CodeNotFound
	case errors.As(err, &ve):
		return apperr.CodeBadUserInput
	case errors.As(err, &ce):
		return apperr.CodeConflict
	// The request's deadline passed, or its client went away.
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return apperr.CodeUnavailable
	}
	return apperr.CodeInternal
}

// argumentError reports whether err was raised while gqlgen read the
// field's arguments (a malformed cursor, ID, time or enum in a variable):
// the client's mistake. gqlgen sets the field's Args only once they all
// decoded.
func argumentError(ctx context.Context) bool {
	if !graphql.HasOperationContext(ctx) {
		return false
	}
	fc := graphql.GetFieldContext(ctx)
	return fc != nil && fc.Args == nil && fc.Field.Field != nil && fc.Field.Definition != nil &&
		len(fc.Field.Definition.Arguments) > 0
}

// maxLoggedError bounds what an internal error adds to the log: an error
// may quote its input.
const maxLoggedError = 1024

// ErrorPresenter turns a resolver error into a GraphQL error with
// extensions.code. Internal errors are logged and replaced by a generic
// message: no internals, no stack traces reach the client.
func ErrorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var already *gqlerror.Error
		if errors.As(err, &already) && already.Extensions != nil && already.Extensions["code"] != nil && errors.Unwrap(err) == nil {
			return gqlErr // parser and validation errors carry their code
		}
		code := codeOf(err)
		if code == apperr.CodeInternal && argumentError(ctx) {
			// gqlErr's message is the decoder's ("cannot decode cursor"),
			// its path names the argument.
			gqlErr.Message = truncate(gqlErr.Message, maxLoggedError)
			if gqlErr.Extensions == nil {
				gqlErr.Extensions = map[string]any{}
			}
			gqlErr.Extensions["code"] = string(apperr.CodeBadUserInput)
			return gqlErr
		}
		if gqlErr.Extensions == nil {
			gqlErr.Extensions = map[string]any{}
		}
		gqlErr.Extensions["code"] = string(code)
		var ae *apperr.Error
		switch {
		case errors.As(err, &ae):
			gqlErr.Message = ae.Message
			if ae.Field != "" {
				gqlErr.Extensions["field"] = ae.Field
			}
		case code == apperr.CodeNotFound:
			gqlErr.Message = "not found"
		case code == apperr.CodeUnauthenticated:
			gqlErr.Message = "authentication required"
		case code == apperr.CodeForbidden:
			gqlErr.Message = "forbidden: " + err.Error()
		case code == apperr.CodeBadUserInput:
			gqlErr.Message = truncate(err.Error(), maxLoggedError)
		case code == apperr.CodeConflict:
			gqlErr.Message = "conflicts with an existing object"
		case code == apperr.CodeUnavailable && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)):
			gqlErr.Message = "the request timed out or was cancelled before this field was resolved"
		case code == apperr.CodeInternal:
			log.ErrorContext(ctx, "graphql: internal error", "path", gqlErr.Path.String(), "err", truncate(err.Error(), maxLoggedError))
			gqlErr.Message = "internal error"
		default:
			gqlErr.Message = string(code)
		}
		return gqlErr
	}
}

// Recover turns a panic in a resolver into an INTERNAL error, logged.
func Recover(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "graphql: panic in resolver", "panic", p)
		return apperr.New(apperr.CodeInternal, "internal error")
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
