package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	// The quota wait comes before the call's own timeout starts.
	if err := p.m.wait(ctx, p.name, method); err != nil {
		return zero, err
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

// The calls added in protocol 1.1. A plugin that predates them, or does
// not offer one, answers sdk.ErrUnsupported.
var (
	_ sdk.Authorizer        = (*conn)(nil)
	_ sdk.WebhookSubscriber = (*conn)(nil)
	_ sdk.MediaFetcher      = (*conn)(nil)
	_ sdk.TemplateLister    = (*conn)(nil)
	_ sdk.Lookuper          = (*conn)(nil)
	_ sdk.Deleter           = (*conn)(nil)
	_ sdk.PostValidator     = (*conn)(nil)
)

// as returns the plugin as T: the host side of the SDK implements every
// optional interface, a test double may not.
func as[T any](x sdk.Connector, method string) (T, error) {
	t, ok := x.(T)
	if !ok {
		var zero T
		return zero, sdk.NewError(sdk.ClassUnsupported, "", "%s is not supported by this connector", method)
	}
	return t, nil
}

func (c *conn) AuthorizeURL(ctx context.Context, req *sdk.AuthorizeRequest) (*sdk.AuthorizeResponse, error) {
	return invoke(ctx, c, "AuthorizeURL", func(ctx context.Context, x sdk.Connector) (*sdk.AuthorizeResponse, error) {
		a, err := as[sdk.Authorizer](x, "AuthorizeURL")
		if err != nil {
			return nil, err
		}
		return a.AuthorizeURL(ctx, req)
	})
}

func (c *conn) ExchangeCode(ctx context.Context, req *sdk.ExchangeRequest) (*sdk.Grant, error) {
	return invoke(ctx, c, "ExchangeCode", func(ctx context.Context, x sdk.Connector) (*sdk.Grant, error) {
		a, err := as[sdk.Authorizer](x, "ExchangeCode")
		if err != nil {
			return nil, err
		}
		return a.ExchangeCode(ctx, req)
	})
}

func (c *conn) SubscribeWebhooks(ctx context.Context, req *sdk.CredentialsRequest) error {
	_, err := invoke(ctx, c, "SubscribeWebhooks", func(ctx context.Context, x sdk.Connector) (struct{}, error) {
		w, err := as[sdk.WebhookSubscriber](x, "SubscribeWebhooks")
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, w.SubscribeWebhooks(ctx, req)
	})
	return err
}

// FetchMedia streams: the call timeout covers the whole download, and the
// stream lives until the caller closes Body (invoke would end it when the
// call returns).
func (c *conn) FetchMedia(ctx context.Context, req *sdk.FetchMediaRequest) (*sdk.MediaContent, error) {
	impl, _ := c.p.current()
	if impl == nil {
		return nil, &sdk.Error{Class: sdk.ClassRetryable, Message: fmt.Sprintf("connector %s is down and restarting", c.p.name),
			RetryAfter: c.p.m.opts.MinBackoff}
	}
	f, err := as[sdk.MediaFetcher](impl, "FetchMedia")
	if err != nil {
		return nil, err
	}
	if err := c.p.m.wait(ctx, c.p.name, "FetchMedia"); err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, c.p.m.opts.CallTimeout)
	mc, err := f.FetchMedia(cctx, req)
	if err != nil {
		cancel()
		if sdk.ClassOf(err) == sdk.ClassRetryable {
			c.p.poke()
		}
		return nil, err
	}
	mc.Body = &cancelOnClose{ReadCloser: mc.Body, cancel: cancel}
	return mc, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func (c *conn) ListTemplates(ctx context.Context, req *sdk.CredentialsRequest) ([]*sdk.TemplateInfo, error) {
	return invoke(ctx, c, "ListTemplates", func(ctx context.Context, x sdk.Connector) ([]*sdk.TemplateInfo, error) {
		l, err := as[sdk.TemplateLister](x, "ListTemplates")
		if err != nil {
			return nil, err
		}
		return l.ListTemplates(ctx, req)
	})
}

func (c *conn) LookupContact(ctx context.Context, req *sdk.LookupRequest) (*sdk.Contact, error) {
	return invoke(ctx, c, "LookupContact", func(ctx context.Context, x sdk.Connector) (*sdk.Contact, error) {
		l, err := as[sdk.Lookuper](x, "LookupContact")
		if err != nil {
			return nil, err
		}
		return l.LookupContact(ctx, req)
	})
}

func (c *conn) LookupThread(ctx context.Context, req *sdk.LookupRequest) (*sdk.ThreadInfo, error) {
	return invoke(ctx, c, "LookupThread", func(ctx context.Context, x sdk.Connector) (*sdk.ThreadInfo, error) {
		l, err := as[sdk.Lookuper](x, "LookupThread")
		if err != nil {
			return nil, err
		}
		return l.LookupThread(ctx, req)
	})
}

func (c *conn) Delete(ctx context.Context, req *sdk.DeleteRequest) error {
	_, err := invoke(ctx, c, "Delete", func(ctx context.Context, x sdk.Connector) (struct{}, error) {
		d, err := as[sdk.Deleter](x, "Delete")
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, d.Delete(ctx, req)
	})
	return err
}

func (c *conn) ValidatePost(ctx context.Context, req *sdk.PublishRequest) error {
	_, err := invoke(ctx, c, "ValidatePost", func(ctx context.Context, x sdk.Connector) (struct{}, error) {
		v, err := as[sdk.PostValidator](x, "ValidatePost")
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, v.ValidatePost(ctx, req)
	})
	return err
}
