package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"

	pb "github.com/neksio/neksio/plugins/sdk/internal/genproto/connector/v1"
)

// The server and client halves of the calls added in protocol 1.1. The
// server answers "unsupported" when the connector does not implement the
// call's interface, exactly as a plugin built before 1.1 does (its gRPC
// server answers UNIMPLEMENTED, which fromStatus reads as unsupported).

// implOf returns the connector as T, or the unsupported error for method.
func implOf[T any](impl Connector, method string) (T, error) {
	x, ok := impl.(T)
	if !ok {
		var zero T
		return zero, unsupported(method)
	}
	return x, nil
}

func (s *grpcServer) AuthorizeURL(ctx context.Context, req *pb.AuthorizeRequest) (*pb.AuthorizeResponse, error) {
	return serve(ctx, req, func(ctx context.Context, req *pb.AuthorizeRequest) (*pb.AuthorizeResponse, error) {
		a, err := implOf[Authorizer](s.impl, "AuthorizeURL")
		if err != nil {
			return nil, err
		}
		r, err := a.AuthorizeURL(ctx, authorizeRequestFromProto(req))
		if err != nil {
			return nil, err
		}
		if r == nil {
			return &pb.AuthorizeResponse{}, nil
		}
		return &pb.AuthorizeResponse{Url: r.URL}, nil
	})
}

func (s *grpcServer) ExchangeCode(ctx context.Context, req *pb.ExchangeRequest) (*pb.Grant, error) {
	return serve(ctx, req, func(ctx context.Context, req *pb.ExchangeRequest) (*pb.Grant, error) {
		a, err := implOf[Authorizer](s.impl, "ExchangeCode")
		if err != nil {
			return nil, err
		}
		g, err := a.ExchangeCode(ctx, exchangeRequestFromProto(req))
		if err != nil {
			return nil, err
		}
		return grantToProto(g), nil
	})
}

func (s *grpcServer) SubscribeWebhooks(ctx context.Context, req *pb.CredentialsRequest) (*pb.SubscribeWebhooksResponse, error) {
	return serve(ctx, req, func(ctx context.Context, req *pb.CredentialsRequest) (*pb.SubscribeWebhooksResponse, error) {
		w, err := implOf[WebhookSubscriber](s.impl, "SubscribeWebhooks")
		if err != nil {
			return nil, err
		}
		if err := w.SubscribeWebhooks(ctx, credentialsRequestFromProto(req)); err != nil {
			return nil, err
		}
		return &pb.SubscribeWebhooksResponse{}, nil
	})
}

// mediaChunkSize keeps every message well under gRPC's 4 MiB default.
const mediaChunkSize = 256 << 10

func (s *grpcServer) FetchMedia(req *pb.FetchMediaRequest, stream pb.Connector_FetchMediaServer) error {
	_, err := serve(stream.Context(), req, func(ctx context.Context, req *pb.FetchMediaRequest) (struct{}, error) {
		f, err := implOf[MediaFetcher](s.impl, "FetchMedia")
		if err != nil {
			return struct{}{}, err
		}
		mc, err := f.FetchMedia(ctx, fetchMediaRequestFromProto(req))
		if err != nil {
			return struct{}{}, err
		}
		if mc == nil || mc.Body == nil {
			return struct{}{}, NewError(ClassPermanent, "", "connector returned no media")
		}
		defer mc.Body.Close()
		if err := stream.Send(&pb.MediaChunk{Header: &pb.MediaHeader{MimeType: mc.MimeType, Size: mc.Size, Name: mc.Name}}); err != nil {
			return struct{}{}, err
		}
		buf := make([]byte, mediaChunkSize)
		var sent int64
		for {
			n, rerr := io.ReadFull(mc.Body, buf)
			if n > 0 {
				sent += int64(n)
				if req.GetMaxBytes() > 0 && sent > req.GetMaxBytes() {
					return struct{}{}, NewError(ClassPermanent, "too_large", "media is larger than %d bytes", req.GetMaxBytes())
				}
				if err := stream.Send(&pb.MediaChunk{Data: buf[:n]}); err != nil {
					return struct{}{}, err
				}
			}
			if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
				return struct{}{}, nil
			}
			if rerr != nil {
				// A connector's classified failure (too large, a checksum
				// mismatch, an expired URL) keeps its class; anything else
				// broke mid-download and may work again.
				var ce *Error
				if errors.As(rerr, &ce) {
					return struct{}{}, ce
				}
				return struct{}{}, NewError(ClassRetryable, "", "reading media: %v", rerr)
			}
		}
	})
	return err
}

func (s *grpcServer) ListTemplates(ctx context.Context, req *pb.CredentialsRequest) (*pb.TemplateList, error) {
	return serve(ctx, req, func(ctx context.Context, req *pb.CredentialsRequest) (*pb.TemplateList, error) {
		l, err := implOf[TemplateLister](s.impl, "ListTemplates")
		if err != nil {
			return nil, err
		}
		ts, err := l.ListTemplates(ctx, credentialsRequestFromProto(req))
		if err != nil {
			return nil, err
		}
		out := &pb.TemplateList{}
		for _, t := range ts {
			if t != nil {
				out.Templates = append(out.Templates, templateInfoToProto(t))
			}
		}
		return out, nil
	})
}

func (s *grpcServer) LookupContact(ctx context.Context, req *pb.LookupRequest) (*pb.Contact, error) {
	return serve(ctx, req, func(ctx context.Context, req *pb.LookupRequest) (*pb.Contact, error) {
		l, err := implOf[Lookuper](s.impl, "LookupContact")
		if err != nil {
			return nil, err
		}
		c, err := l.LookupContact(ctx, lookupRequestFromProto(req))
		if err != nil {
			return nil, err
		}
		return contactToProto(c), nil
	})
}

func (s *grpcServer) LookupThread(ctx context.Context, req *pb.LookupRequest) (*pb.ThreadInfo, error) {
	return serve(ctx, req, func(ctx context.Context, req *pb.LookupRequest) (*pb.ThreadInfo, error) {
		l, err := implOf[Lookuper](s.impl, "LookupThread")
		if err != nil {
			return nil, err
		}
		t, err := l.LookupThread(ctx, lookupRequestFromProto(req))
		if err != nil {
			return nil, err
		}
		return threadInfoToProto(t), nil
	})
}

func (s *grpcServer) Delete(ctx context.Context, req *pb.DeleteRequest) (*pb.DeleteResponse, error) {
	return serve(ctx, req, func(ctx context.Context, req *pb.DeleteRequest) (*pb.DeleteResponse, error) {
		d, err := implOf[Deleter](s.impl, "Delete")
		if err != nil {
			return nil, err
		}
		if err := d.Delete(ctx, deleteRequestFromProto(req)); err != nil {
			return nil, err
		}
		return &pb.DeleteResponse{}, nil
	})
}

func (s *grpcServer) ValidatePost(ctx context.Context, req *pb.PublishRequest) (*pb.ValidatePostResponse, error) {
	return serve(ctx, req, func(ctx context.Context, req *pb.PublishRequest) (*pb.ValidatePostResponse, error) {
		v, err := implOf[PostValidator](s.impl, "ValidatePost")
		if err != nil {
			return nil, err
		}
		if err := v.ValidatePost(ctx, publishRequestFromProto(req)); err != nil {
			return nil, err
		}
		return &pb.ValidatePostResponse{}, nil
	})
}

// The host's side. grpcClient implements every optional interface.
var (
	_ Authorizer        = (*grpcClient)(nil)
	_ WebhookSubscriber = (*grpcClient)(nil)
	_ MediaFetcher      = (*grpcClient)(nil)
	_ TemplateLister    = (*grpcClient)(nil)
	_ Lookuper          = (*grpcClient)(nil)
	_ Deleter           = (*grpcClient)(nil)
	_ PostValidator     = (*grpcClient)(nil)
)

func (c *grpcClient) AuthorizeURL(ctx context.Context, req *AuthorizeRequest) (*AuthorizeResponse, error) {
	r, err := c.c.AuthorizeURL(ctx, authorizeRequestToProto(req))
	if err != nil {
		return nil, fromStatus(err)
	}
	return &AuthorizeResponse{URL: r.GetUrl()}, nil
}

func (c *grpcClient) ExchangeCode(ctx context.Context, req *ExchangeRequest) (*Grant, error) {
	r, err := c.c.ExchangeCode(ctx, exchangeRequestToProto(req))
	if err != nil {
		return nil, fromStatus(err)
	}
	return grantFromProto(r), nil
}

func (c *grpcClient) SubscribeWebhooks(ctx context.Context, req *CredentialsRequest) error {
	if _, err := c.c.SubscribeWebhooks(ctx, credentialsRequestToProto(req)); err != nil {
		return fromStatus(err)
	}
	return nil
}

// FetchMedia reads the stream's header before it returns, so a refusal
// arrives as the call's error; the body then streams as it is read.
// Cancelling ctx ends the stream: keep it alive until Body is closed.
func (c *grpcClient) FetchMedia(ctx context.Context, req *FetchMediaRequest) (*MediaContent, error) {
	stream, err := c.c.FetchMedia(ctx, fetchMediaRequestToProto(req))
	if err != nil {
		return nil, fromStatus(err)
	}
	first, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, NewError(ClassPermanent, "", "connector sent no media")
		}
		return nil, fromStatus(err)
	}
	h := first.GetHeader()
	if h == nil {
		return nil, NewError(ClassPermanent, "", "connector sent media without a header")
	}
	return &MediaContent{MimeType: h.GetMimeType(), Size: h.GetSize(), Name: h.GetName(),
		Body: &mediaStream{stream: stream, max: req.MaxBytes}}, nil
}

// mediaStream reads a FetchMedia stream's chunks as one body, enforcing the
// size the host asked for whatever the plugin does.
type mediaStream struct {
	stream pb.Connector_FetchMediaClient
	buf    []byte
	read   int64
	max    int64
	err    error
}

func (m *mediaStream) Read(p []byte) (int, error) {
	for len(m.buf) == 0 {
		if m.err != nil {
			return 0, m.err
		}
		chunk, err := m.stream.Recv()
		if errors.Is(err, io.EOF) {
			m.err = io.EOF
			continue
		}
		if err != nil {
			m.err = fromStatus(err)
			continue
		}
		m.buf = chunk.GetData()
		m.read += int64(len(m.buf))
		if m.max > 0 && m.read > m.max {
			m.buf = nil
			m.err = NewError(ClassPermanent, "too_large", "media is larger than %d bytes", m.max)
		}
	}
	n := copy(p, m.buf)
	m.buf = m.buf[n:]
	return n, nil
}

func (m *mediaStream) Close() error {
	if m.err == nil {
		m.err = fmt.Errorf("sdk: media stream closed")
	}
	return m.stream.CloseSend()
}

func (c *grpcClient) ListTemplates(ctx context.Context, req *CredentialsRequest) ([]*TemplateInfo, error) {
	r, err := c.c.ListTemplates(ctx, credentialsRequestToProto(req))
	if err != nil {
		return nil, fromStatus(err)
	}
	out := make([]*TemplateInfo, 0, len(r.GetTemplates()))
	for _, t := range r.GetTemplates() {
		out = append(out, templateInfoFromProto(t))
	}
	return out, nil
}

func (c *grpcClient) LookupContact(ctx context.Context, req *LookupRequest) (*Contact, error) {
	r, err := c.c.LookupContact(ctx, lookupRequestToProto(req))
	if err != nil {
		return nil, fromStatus(err)
	}
	ct := contactFromProto(r)
	return &ct, nil
}

func (c *grpcClient) LookupThread(ctx context.Context, req *LookupRequest) (*ThreadInfo, error) {
	r, err := c.c.LookupThread(ctx, lookupRequestToProto(req))
	if err != nil {
		return nil, fromStatus(err)
	}
	return threadInfoFromProto(r), nil
}

func (c *grpcClient) Delete(ctx context.Context, req *DeleteRequest) error {
	if _, err := c.c.Delete(ctx, deleteRequestToProto(req)); err != nil {
		return fromStatus(err)
	}
	return nil
}

func (c *grpcClient) ValidatePost(ctx context.Context, req *PublishRequest) error {
	if _, err := c.c.ValidatePost(ctx, publishRequestToProto(req)); err != nil {
		return fromStatus(err)
	}
	return nil
}
