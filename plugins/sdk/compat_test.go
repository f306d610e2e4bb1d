package sdk

import (
	"context"
	"net"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	pb "github.com/neksio/neksio/plugins/sdk/internal/genproto/connector/v1"
)

// v1_0Methods are the calls of protocol 1.0: a plugin built then serves
// only these.
var v1_0Methods = []string{"Describe", "VerifySubscription", "HandleWebhook", "Send", "Publish",
	"PublishStatus", "Sync", "ValidateCredentials", "RefreshCredentials", "Revoke"}

type v1_0Connector struct{ UnimplementedConnector }

func (v1_0Connector) Describe(context.Context) (*Description, error) {
	return &Description{Name: "old", Version: "1.0.0", Platforms: []string{"old"}}, nil
}

// A host speaking 1.1 talks to a plugin built with protocol 1.0: the old
// calls work, the new ones answer unsupported instead of failing as
// retryable (which would make the host retry them forever).
func TestHostTalksToV1_0Plugin(t *testing.T) {
	t.Parallel()
	desc := pb.Connector_ServiceDesc
	desc.Methods = slices.DeleteFunc(slices.Clone(desc.Methods), func(m grpc.MethodDesc) bool {
		return !slices.Contains(v1_0Methods, m.MethodName)
	})
	desc.Streams = nil // FetchMedia is the only stream, added in 1.1
	require.Len(t, desc.Methods, len(v1_0Methods))

	ln := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	srv.RegisterService(&desc, &grpcServer{impl: v1_0Connector{}})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return ln.Dial() }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })

	c := NewGRPCClient(conn)
	ctx := context.Background()
	d, err := c.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, "old", d.Name)
	_, err = c.(Authorizer).AuthorizeURL(ctx, &AuthorizeRequest{})
	require.Equal(t, ClassUnsupported, ClassOf(err), "%v", err)
	_, err = c.(MediaFetcher).FetchMedia(ctx, &FetchMediaRequest{})
	require.Equal(t, ClassUnsupported, ClassOf(err), "%v", err)
	require.Equal(t, ClassUnsupported, ClassOf(c.(Deleter).Delete(ctx, &DeleteRequest{})))
	// A 1.0 call still answers as before.
	_, err = c.Send(ctx, &SendRequest{})
	require.Equal(t, ClassUnsupported, ClassOf(err))
	require.Contains(t, err.Error(), "Send is not supported")
}
