package connector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/neksio/neksio/plugins/sdk"
)

// conn is the sdk.Connector Get hands out. It resolves the live process
// on every call, so it survives restarts.
type conn struct {
	p *managed
}

var _ sdk.Connector = (*conn)(nil)

// invoke runs one call under the call timeout. Errors keep their *sdk.Error
// as the plugin sent it; a connector that is down, a dead process and a
// timeout are ClassRetryable. A retryable failure also asks the supervisor
// to check the process now rather than at the next tick.
func invoke[T any](ctx context.Context, c *conn, method string, call func(context.Context, sdk.Connector) (T, error)) (T, error) {
	var zero T
	p := c.p
	impl, _ := p.current()
	if impl == nil {
		return zero, &sdk.Error{
			Class:      sdk.ClassRetryable,
			Message:    fmt.Sprintf("connector %s is down and restarting", p.name),
			RetryAfter: p.m.opts.MinBackoff,
		}
	}
	cctx, cancel := context.WithTimeout(ctx, p.m.opts.CallTimeout)
	defer cancel()
	res, err := call(cctx, impl)
	if err == nil {
		return res, nil
	}
	if sdk.ClassOf(err) == sdk.ClassRetryable {
		p.poke()
		// Name the timeout: the transport's message alone reads like a
		// crash.
		// The plugin may notice the (propagated) deadline before this
		// context's timer fires: compare the clock too.
		dl, _ := cctx.Deadline()
		if ctx.Err() == nil && (errors.Is(cctx.Err(), context.DeadlineExceeded) || !time.Now().Before(dl)) {
			return zero, &sdk.Error{
				Class:   sdk.ClassRetryable,
				Message: fmt.Sprintf("connector %s: %s timed out after %s", p.name, method, p.m.opts.CallTimeout),
			}
		}
	}
	return zero, err
}

func (c *conn) Describe(ctx context.Context) (*sdk.Description, error) {
	return invoke(ctx, c, "Describe", func(ctx context.Context, x sdk.Connector) (*sdk.Description, error) {
		return x.Describe(ctx)
	})
}

func (c *conn) VerifySubscription(ctx context.Context, req *sdk.VerifyRequest) (*sdk.VerifyResponse, error) {
	return invoke(ctx, c, "VerifySubscription", func(ctx context.Context, x sdk.Connector) (*sdk.VerifyResponse, error) {
		return x.VerifySubscription(ctx, req)
	})
}

func (c *conn) HandleWebhook(ctx context.Context, req *sdk.WebhookRequest) (*sdk.WebhookResult, error) {
	return invoke(ctx, c, "HandleWebhook", func(ctx context.Context, x sdk.Connector) (*sdk.WebhookResult, error) {
		return x.HandleWebhook(ctx, req)
	})
}

func (c *conn) Send(ctx context.Context, req *sdk.SendRequest) (*sdk.SendResult, error) {
	return invoke(ctx, c, "Send", func(ctx context.Context, x sdk.Connector) (*sdk.SendResult, error) {
		return x.Send(ctx, req)
	})
}

func (c *conn) Publish(ctx context.Context, req *sdk.PublishRequest) (*sdk.PublishResult, error) {
	return invoke(ctx, c, "Publish", func(ctx context.Context, x sdk.Connector) (*sdk.PublishResult, error) {
		return x.Publish(ctx, req)
	})
}

func (c *conn) PublishStatus(ctx context.Context, req *sdk.PublishStatusRequest) (*sdk.PublishResult, error) {
	return invoke(ctx, c, "PublishStatus", func(ctx context.Context, x sdk.Connector) (*sdk.PublishResult, error) {
		return x.PublishStatus(ctx, req)
	})
}

func (c *conn) Sync(ctx context.Context, req *sdk.SyncRequest) (*sdk.SyncResult, error) {
	return invoke(ctx, c, "Sync", func(ctx context.Context, x sdk.Connector) (*sdk.SyncResult, error) {
		return x.Sync(ctx, req)
	})
}

func (c *conn) ValidateCredentials(ctx context.Context, req *sdk.CredentialsRequest) (*sdk.AccountInfo, error) {
	return invoke(ctx, c, "ValidateCredentials", func(ctx context.Context, x sdk.Connector) (*sdk.AccountInfo, error) {
		return x.ValidateCredentials(ctx, req)
	})
}

func (c *conn) RefreshCredentials(ctx context.Context, req *sdk.CredentialsRequest) (*sdk.Credentials, error) {
	return invoke(ctx, c, "RefreshCredentials", func(ctx context.Context, x sdk.Connector) (*sdk.Credentials, error) {
		return x.RefreshCredentials(ctx, req)
	})
}

func (c *conn) Revoke(ctx context.Context, req *sdk.CredentialsRequest) error {
	_, err := invoke(ctx, c, "Revoke", func(ctx context.Context, x sdk.Connector) (struct{}, error) {
		return struct{}{}, x.Revoke(ctx, req)
	})
	return err
}
