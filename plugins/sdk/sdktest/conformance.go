package sdktest

import (
	"slices"
	"testing"

	"github.com/neksio/neksio/plugins/sdk"
)

var knownCapabilities = []sdk.Capability{
	sdk.CapWebhook, sdk.CapDirectMessage, sdk.CapCommentReply, sdk.CapPrivateReply,
	sdk.CapReviewReply, sdk.CapTemplates, sdk.CapPublish, sdk.CapSync, sdk.CapRefresh,
	sdk.CapRevoke, sdk.CapValidate, sdk.CapVerifySubscription,
	sdk.CapOAuth, sdk.CapSubscribe, sdk.CapMediaFetch, sdk.CapListTemplates, sdk.CapLookup,
	sdk.CapDelete, sdk.CapValidatePost,
}

// sendCapabilities are the capabilities that make Send a surface.
var sendCapabilities = map[sdk.SendKind]sdk.Capability{
	sdk.SendDirect:         sdk.CapDirectMessage,
	sdk.SendCommentPublic:  sdk.CapCommentReply,
	sdk.SendCommentPrivate: sdk.CapPrivateReply,
	sdk.SendReviewReply:    sdk.CapReviewReply,
}

// Conformance checks the contract every connector must keep, through a
// real gRPC connection (see Connect). It never lets c reach a platform: it
// calls surfaces c does not offer, and HandleWebhook and VerifySubscription,
// which must not call the platform, with what f provides. A connector
// without webhooks passes Fixtures{}.
//
// The rules:
//   - Describe names the connector, its version and at least one platform,
//     and lists only known capabilities, without duplicates; every declared
//     setting has a unique name.
//   - A method outside the capabilities answers ClassUnsupported; a Send
//     of a kind outside them fails as ClassUnsupported or ClassPermanent.
//   - Every platform's Rules name a platform the connector serves, and a
//     capability of protocol 1.1 is declared exactly when its optional
//     interface is implemented.
//   - With CapWebhook (which needs f.Sign and f.Deliveries), see
//     Fixtures: every valid delivery, signed by f.Sign, parses into
//     well-formed events that include its Want, with the same event keys
//     (EventKey) when parsed again; the same delivery unsigned, with any
//     value f.Sign set changed by one character, signed by f.Forge, with
//     one byte of its body changed (unless f.SenderOnly), or for an app
//     with nothing configured, answers ClassUnauthenticated; a signed
//     truncated delivery, a signed 1 MiB body that is not JSON and every
//     f.Malformed body answer ClassMalformed.
//   - With CapVerifySubscription (which needs f.Handshake), the handshake
//     with the right token is answered 2xx with the challenge, and with a
//     wrong token or none configured it is not.
func Conformance(t *testing.T, c sdk.Connector, f Fixtures) {
	t.Helper()
	conn := Connect(t, c)
	ctx := background(t)

	desc, err := conn.Describe(ctx)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	has := func(c sdk.Capability) bool { return slices.Contains(desc.Capabilities, c) }

	t.Run("Describe", func(t *testing.T) {
		if desc.Name == "" {
			t.Error("Describe: empty Name")
		}
		if desc.Version == "" {
			t.Error("Describe: empty Version")
		}
		if len(desc.Platforms) == 0 {
			t.Error("Describe: no Platforms")
		}
		seen := map[sdk.Capability]bool{}
		for _, c := range desc.Capabilities {
			if !slices.Contains(knownCapabilities, c) {
				t.Errorf("Describe: unknown capability %q", c)
			}
			if seen[c] {
				t.Errorf("Describe: capability %q listed twice", c)
			}
			seen[c] = true
		}
		for _, r := range desc.Rules {
			if !slices.Contains(desc.Platforms, r.Platform) {
				t.Errorf("Describe: rules for %q, which is not among the platforms %v", r.Platform, desc.Platforms)
			}
		}
		for capability, implemented := range map[sdk.Capability]bool{
			sdk.CapOAuth:         implements[sdk.Authorizer](c),
			sdk.CapSubscribe:     implements[sdk.WebhookSubscriber](c),
			sdk.CapMediaFetch:    implements[sdk.MediaFetcher](c),
			sdk.CapListTemplates: implements[sdk.TemplateLister](c),
			sdk.CapLookup:        implements[sdk.Lookuper](c),
			sdk.CapDelete:        implements[sdk.Deleter](c),
			sdk.CapValidatePost:  implements[sdk.PostValidator](c),
		} {
			if has(capability) != implemented {
				t.Errorf("Describe: capability %q declared %v, but its interface implemented %v", capability, has(capability), implemented)
			}
		}
		names := map[string]bool{}
		for _, f := range desc.ConfigSchema {
			if f.Name == "" || names[f.Name] {
				t.Errorf("Describe: config field name %q empty or repeated", f.Name)
			}
			names[f.Name] = true
		}
	})

	t.Run("Unsupported", func(t *testing.T) {
		unsupported := func(name string, offered bool, call func() error) {
			if offered {
				return
			}
			if got := sdk.ClassOf(call()); got != sdk.ClassUnsupported {
				t.Errorf("%s is not a capability: want class %s, got %q", name, sdk.ClassUnsupported, got)
			}
		}
		unsupported("VerifySubscription", has(sdk.CapVerifySubscription), func() error {
			_, err := conn.VerifySubscription(ctx, &sdk.VerifyRequest{})
			return err
		})
		unsupported("HandleWebhook", has(sdk.CapWebhook), func() error {
			_, err := conn.HandleWebhook(ctx, &sdk.WebhookRequest{})
			return err
		})
		unsupported("Publish", has(sdk.CapPublish), func() error {
			_, err := conn.Publish(ctx, &sdk.PublishRequest{})
			return err
		})
		unsupported("PublishStatus", has(sdk.CapPublish), func() error {
			_, err := conn.PublishStatus(ctx, &sdk.PublishStatusRequest{})
			return err
		})
		unsupported("Sync", has(sdk.CapSync), func() error {
			_, err := conn.Sync(ctx, &sdk.SyncRequest{})
			return err
		})
		unsupported("ValidateCredentials", has(sdk.CapValidate), func() error {
			_, err := conn.ValidateCredentials(ctx, &sdk.CredentialsRequest{})
			return err
		})
		unsupported("RefreshCredentials", has(sdk.CapRefresh), func() error {
			_, err := conn.RefreshCredentials(ctx, &sdk.CredentialsRequest{})
			return err
		})
		unsupported("Revoke", has(sdk.CapRevoke), func() error {
			return conn.Revoke(ctx, &sdk.CredentialsRequest{})
		})
		// The calls of protocol 1.1, through the host's side of the SDK.
		unsupported("AuthorizeURL", has(sdk.CapOAuth), func() error {
			_, err := conn.(sdk.Authorizer).AuthorizeURL(ctx, &sdk.AuthorizeRequest{})
			return err
		})
		unsupported("ExchangeCode", has(sdk.CapOAuth), func() error {
			_, err := conn.(sdk.Authorizer).ExchangeCode(ctx, &sdk.ExchangeRequest{})
			return err
		})
		unsupported("SubscribeWebhooks", has(sdk.CapSubscribe), func() error {
			return conn.(sdk.WebhookSubscriber).SubscribeWebhooks(ctx, &sdk.CredentialsRequest{})
		})
		unsupported("FetchMedia", has(sdk.CapMediaFetch), func() error {
			_, err := conn.(sdk.MediaFetcher).FetchMedia(ctx, &sdk.FetchMediaRequest{})
			return err
		})
		unsupported("ListTemplates", has(sdk.CapListTemplates), func() error {
			_, err := conn.(sdk.TemplateLister).ListTemplates(ctx, &sdk.CredentialsRequest{})
			return err
		})
		unsupported("LookupContact", has(sdk.CapLookup), func() error {
			_, err := conn.(sdk.Lookuper).LookupContact(ctx, &sdk.LookupRequest{})
			return err
		})
		unsupported("Delete", has(sdk.CapDelete), func() error {
			return conn.(sdk.Deleter).Delete(ctx, &sdk.DeleteRequest{})
		})
		unsupported("ValidatePost", has(sdk.CapValidatePost), func() error {
			return conn.(sdk.PostValidator).ValidatePost(ctx, &sdk.PublishRequest{})
		})
		for kind, c := range sendCapabilities {
			if has(c) {
				continue
			}
			_, err := conn.Send(ctx, &sdk.SendRequest{Kind: kind, RecipientID: "conformance", Text: "hi"})
			if got := sdk.ClassOf(err); got != sdk.ClassUnsupported && got != sdk.ClassPermanent {
				t.Errorf("Send of kind %s without capability %s: want class unsupported or permanent, got %q (%v)", kind, c, got, err)
			}
		}
	})

	if has(sdk.CapWebhook) {
		t.Run("Webhook", func(t *testing.T) {
			if f.Sign == nil || len(f.Deliveries) == 0 {
				t.Fatal("the connector declares CapWebhook: Conformance needs Fixtures.Sign and at least one Fixtures.Deliveries entry")
			}
			conformWebhook(ctx, t, conn, desc, f)
		})
	} else if f.Sign != nil || len(f.Deliveries) > 0 {
		t.Error("Fixtures carry deliveries, but the connector does not declare CapWebhook")
	}

	if has(sdk.CapVerifySubscription) {
		t.Run("VerifySubscription", func(t *testing.T) {
			if f.Handshake == nil {
				t.Fatal("the connector declares CapVerifySubscription: Conformance needs Fixtures.Handshake")
			}
			conformHandshake(ctx, t, conn, f)
		})
	}
}

func implements[T any](c sdk.Connector) bool {
	_, ok := c.(T)
	return ok
}
