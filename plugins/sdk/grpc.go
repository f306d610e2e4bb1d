package sdk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/neksio/neksio/plugins/sdk/internal/genproto/connector/v1"
)

// GRPCConnectorPlugin is the go-plugin glue of protocol v1. The plugin side
// sets Impl and serves it; the host side leaves Impl nil and dispenses a
// Connector that talks gRPC to the plugin process.
type GRPCConnectorPlugin struct {
	// Net/RPC is never offered: the protocol is gRPC only.
	plugin.NetRPCUnsupportedPlugin

	Impl Connector
}

var _ plugin.GRPCPlugin = (*GRPCConnectorPlugin)(nil)

// GRPCServer registers Impl on the plugin's gRPC server.
func (p *GRPCConnectorPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("sdk: GRPCConnectorPlugin.Impl is nil")
	}
	pb.RegisterConnectorServer(s, &grpcServer{impl: p.Impl})
	return nil
}

// GRPCClient returns a Connector backed by the plugin's gRPC connection.
func (p *GRPCConnectorPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewGRPCClient(c), nil
}

// NewGRPCClient returns a Connector that calls a protocol v1 server over
// conn. Every failure is a *Error: the plugin's own errors arrive with their
// class, code, message and retry hint; transport failures (the plugin died,
// the deadline passed) arrive as ClassRetryable.
func NewGRPCClient(conn grpc.ClientConnInterface) Connector {
	return &grpcClient{c: pb.NewConnectorClient(conn)}
}

// Status codes only help generic gRPC tooling read a failure; the class
// itself travels in the status details.
func grpcCode(c ErrorClass) codes.Code {
	switch c {
	case ClassRetryable:
		return codes.Unavailable
	case ClassWindowClosed:
		return codes.FailedPrecondition
	case ClassAuthRevoked:
		return codes.PermissionDenied
	case ClassUnauthenticated:
		return codes.Unauthenticated
	case ClassMalformed:
		return codes.InvalidArgument
	case ClassUnsupported:
		return codes.Unimplemented
	default:
		return codes.Aborted
	}
}

// toStatus turns a connector's error into a gRPC status carrying a
// neksio.connector.v1.Error detail. Unclassified errors become retryable,
// as the Connector contract says.
func toStatus(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Class: ClassRetryable, Message: err.Error()}
	}
	st := status.New(grpcCode(e.Class), e.Message)
	if withDetail, derr := st.WithDetails(errorToProto(e)); derr == nil {
		st = withDetail
	}
	return st.Err()
}

// fromStatus recovers the *Error a plugin returned, or classifies a failure
// that never reached the plugin's code as retryable.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if ok {
		for _, d := range st.Details() {
			if pe, ok := d.(*pb.Error); ok {
				return errorFromProto(pe)
			}
		}
		// A plugin built before a call existed answers UNIMPLEMENTED
		// without details: it does not offer the call, and retrying
		// cannot change that.
		if st.Code() == codes.Unimplemented {
			return &Error{Class: ClassUnsupported, Message: "the connector plugin does not implement this call: " + st.Message()}
		}
	}
	return &Error{Class: ClassRetryable, Message: fmt.Sprintf("connector plugin call failed: %v", err)}
}

type grpcServer struct {
	pb.UnimplementedConnectorServer
	impl Connector
}

// serve runs one method and turns its error, or a panic, into a status.
// A panic becomes a retryable error instead of killing the process, so one
// bad payload does not fail every call in flight.
func serve[Req, Resp any](ctx context.Context, req Req, fn func(context.Context, Req) (Resp, error)) (resp Resp, err error) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "connector panic: %v\n%s", r, debug.Stack())
			err = toStatus(NewError(ClassRetryable, "panic", "connector panicked: %v", r))
		}
	}()
	resp, err = fn(ctx, req)
	if err != nil {
		var zero Resp
		return zero, toStatus(err)
	}
	return resp, nil
}

func (s *grpcServer) Describe(ctx context.Context, req *pb.DescribeRequest) (*pb.Description, error) {
	return serve(ctx, req, func(ctx context.Context, _ *pb.DescribeRequest) (*pb.Description, error) {
		d, err := s.impl.Describe(ctx)
		if err != nil {
			return nil, err
		}
		return descriptionToProto(d), nil
	})
}

func (s *grpcServer) VerifySubscription(ctx context.Context, req *pb.VerifyRequest) (*pb.VerifyResponse, error) {
	return serve(ctx, req, func(ctx context.Context, req *pb.VerifyRequest) (*pb.VerifyResponse, error) {
		r, err := s.impl.VerifySubscription(ctx, verifyRequestFromProto(req))
		if err != nil {
			return nil, err
		}
		return verifyResponseToProto(r), nil
	})
}

func (s *grpcServer) HandleWebhook(ctx context.Context, req *pb.WebhookRequest) (*pb.WebhookResult, error) {
	return serve(ctx, req, func(ctx context.Context, req *pb.WebhookRequest) (*pb.WebhookResult, error) {
		r, err := s.impl.HandleWebhook(ctx, webhookRequestFromProto(req))
		if err != nil {
			return nil, err
		}
		if r == nil {
			return &pb.WebhookResult{}, nil
		}
		return &pb.WebhookResult{Events: eventsToProto(r.Events)}, nil
	})
}

func (s *grpcServer) Send(ctx context.Context, req *pb.SendRequest) (*pb.SendResult, error) {
	return serve(ctx, req, func(ctx context.Context, req *pb.SendRequest) (*pb.SendResult, error) {
		r, err := s.impl.Send(ctx, sendRequestFromProto(req))
		if err != nil {
			return nil, err
		}
		return sendResultToProto(r), nil
	})
}

func (s *grpcServer) Publish(ctx context.Context, req *pb.PublishRequest) (*pb.PublishResult, error) {
	return serve(ctx, req, func(ctx context.Context, req *pb.PublishRequest) (*pb.PublishResult, error) {
		r, err := s.impl.Publish(ctx, publishRequestFromProto(req))
		if err != nil {
			return nil, err
		}
		return publishResultToProto(r), nil
	})
}

func (s *grpcServer) PublishStatus(ctx context.Context, req *pb.PublishStatusRequest) (*pb.PublishResult, error) {
	return serve(ctx, req, func(ctx context.Context, req *pb.PublishStatusRequest) (*pb.PublishResult, error) {
		r, err := s.impl.PublishStatus(ctx, publishStatusRequestFromProto(req))
		if err != nil {
			return nil, err
		}
		return publishResultToProto(r), nil
	})
}

func (s *grpcServer) Sync(ctx context.Context, req *pb.SyncRequest) (*pb.SyncResult, error) {
	return serve(ctx, req, func(ctx context.Context, req *pb.SyncRequest) (*pb.SyncResult, error) {
		r, err := s.impl.Sync(ctx, syncRequestFromProto(req))
		if err != nil {
			return nil, err
		}
		return syncResultToProto(r), nil
	})
}

func (s *grpcServer) ValidateCredentials(ctx context.Context, req *pb.CredentialsRequest) (*pb.AccountInfo, error) {
	return serve(ctx, req, func(ctx context.Context, req *pb.CredentialsRequest) (*pb.AccountInfo, error) {
		r, err := s.impl.ValidateCredentials(ctx, credentialsRequestFromProto(req))
		if err != nil {
			return nil, err
		}
		return accountInfoToProto(r), nil
	})
}

func (s *grpcServer) RefreshCredentials(ctx context.Context, req *pb.CredentialsRequest) (*pb.Credentials, error) {
	return serve(ctx, req, func(ctx context.Context, req *pb.CredentialsRequest) (*pb.Credentials, error) {
		r, err := s.impl.RefreshCredentials(ctx, credentialsRequestFromProto(req))
		if err != nil {
			return nil, err
		}
		if r == nil {
			return &pb.Credentials{}, nil
		}
		return credentialsToProto(*r), nil
	})
}

func (s *grpcServer) Revoke(ctx context.Context, req *pb.CredentialsRequest) (*pb.RevokeResponse, error) {
	return serve(ctx, req, func(ctx context.Context, req *pb.CredentialsRequest) (*pb.RevokeResponse, error) {
		if err := s.impl.Revoke(ctx, credentialsRequestFromProto(req)); err != nil {
			return nil, err
		}
		return &pb.RevokeResponse{}, nil
	})
}

type grpcClient struct {
	c pb.ConnectorClient
}

func (c *grpcClient) Describe(ctx context.Context) (*Description, error) {
	r, err := c.c.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return nil, fromStatus(err)
	}
	return descriptionFromProto(r), nil
}

func (c *grpcClient) VerifySubscription(ctx context.Context, req *VerifyRequest) (*VerifyResponse, error) {
	r, err := c.c.VerifySubscription(ctx, verifyRequestToProto(req))
	if err != nil {
		return nil, fromStatus(err)
	}
	return verifyResponseFromProto(r), nil
}

func (c *grpcClient) HandleWebhook(ctx context.Context, req *WebhookRequest) (*WebhookResult, error) {
	r, err := c.c.HandleWebhook(ctx, webhookRequestToProto(req))
	if err != nil {
		return nil, fromStatus(err)
	}
	return &WebhookResult{Events: eventsFromProto(r.GetEvents())}, nil
}

func (c *grpcClient) Send(ctx context.Context, req *SendRequest) (*SendResult, error) {
	r, err := c.c.Send(ctx, sendRequestToProto(req))
	if err != nil {
		return nil, fromStatus(err)
	}
	return sendResultFromProto(r), nil
}

func (c *grpcClient) Publish(ctx context.Context, req *PublishRequest) (*PublishResult, error) {
	r, err := c.c.Publish(ctx, publishRequestToProto(req))
	if err != nil {
		return nil, fromStatus(err)
	}
	return publishResultFromProto(r), nil
}

func (c *grpcClient) PublishStatus(ctx context.Context, req *PublishStatusRequest) (*PublishResult, error) {
	r, err := c.c.PublishStatus(ctx, publishStatusRequestToProto(req))
	if err != nil {
		return nil, fromStatus(err)
	}
	return publishResultFromProto(r), nil
}

func (c *grpcClient) Sync(ctx context.Context, req *SyncRequest) (*SyncResult, error) {
	r, err := c.c.Sync(ctx, syncRequestToProto(req))
	if err != nil {
		return nil, fromStatus(err)
	}
	return syncResultFromProto(r), nil
}

func (c *grpcClient) ValidateCredentials(ctx context.Context, req *CredentialsRequest) (*AccountInfo, error) {
	r, err := c.c.ValidateCredentials(ctx, credentialsRequestToProto(req))
	if err != nil {
		return nil, fromStatus(err)
	}
	return accountInfoFromProto(r), nil
}

func (c *grpcClient) RefreshCredentials(ctx context.Context, req *CredentialsRequest) (*Credentials, error) {
	r, err := c.c.RefreshCredentials(ctx, credentialsRequestToProto(req))
	if err != nil {
		return nil, fromStatus(err)
	}
	creds := credentialsFromProto(r)
	return &creds, nil
}

func (c *grpcClient) Revoke(ctx context.Context, req *CredentialsRequest) error {
	if _, err := c.c.Revoke(ctx, credentialsRequestToProto(req)); err != nil {
		return fromStatus(err)
	}
	return nil
}
