package sdk

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/neksio/neksio/plugins/sdk/internal/genproto/connector/v1"
)

// Converters between the SDK's Go types and the generated protobuf. They
// stay unexported so the protocol can change majors without touching the
// API authors code against. A zero time travels as an absent timestamp and
// comes back as the zero time; times come back in UTC.

func tsToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func tsFromProto(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func stringsCopy[T ~string](in []T) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = string(s)
	}
	return out
}

func mapCopy(in map[string]string) map[string]string {
	if in == nil {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

func valuesToProto(in map[string][]string) map[string]*pb.Values {
	if in == nil {
		return nil
	}
	out := make(map[string]*pb.Values, len(in))
	for k, v := range in {
		out[k] = &pb.Values{Values: append([]string(nil), v...)}
	}
	return out
}

func valuesFromProto(in map[string]*pb.Values) map[string][]string {
	if in == nil {
		return nil
	}
	out := make(map[string][]string, len(in))
	for k, v := range in {
		out[k] = append([]string(nil), v.GetValues()...)
	}
	return out
}

func errorToProto(e *Error) *pb.Error {
	if e == nil {
		return nil
	}
	return &pb.Error{
		Class:        string(e.Class),
		Code:         e.Code,
		Message:      e.Message,
		RetryAfterMs: e.RetryAfter.Milliseconds(),
	}
}

func errorFromProto(e *pb.Error) *Error {
	if e == nil {
		return nil
	}
	class := ErrorClass(e.GetClass())
	if class == "" {
		// An error that does not say how it failed may succeed later.
		class = ClassRetryable
	}
	return &Error{
		Class:      class,
		Code:       e.GetCode(),
		Message:    e.GetMessage(),
		RetryAfter: time.Duration(e.GetRetryAfterMs()) * time.Millisecond,
	}
}

func descriptionToProto(d *Description) *pb.Description {
	if d == nil {
		return &pb.Description{}
	}
	out := &pb.Description{
		Name:           d.Name,
		Version:        d.Version,
		Platforms:      stringsCopy(d.Platforms),
		Capabilities:   stringsCopy(d.Capabilities),
		AccountIdLabel: d.AccountIDLabel,
		Rules:          rulesToProto(d.Rules),
		// Whatever the connector says, the SDK it was built with is what
		// speaks the protocol.
		ProtocolMinor: ProtocolMinor,
	}
	for _, f := range d.ConfigSchema {
		out.ConfigSchema = append(out.ConfigSchema, &pb.ConfigField{
			Name: f.Name, Description: f.Description, Secret: f.Secret, Required: f.Required,
		})
	}
	return out
}

func descriptionFromProto(d *pb.Description) *Description {
	out := &Description{
		Name:           d.GetName(),
		Version:        d.GetVersion(),
		Platforms:      stringsCopy(d.GetPlatforms()),
		AccountIDLabel: d.GetAccountIdLabel(),
		Rules:          rulesFromProto(d.GetRules()),
		ProtocolMinor:  int(d.GetProtocolMinor()),
	}
	for _, c := range d.GetCapabilities() {
		out.Capabilities = append(out.Capabilities, Capability(c))
	}
	for _, f := range d.GetConfigSchema() {
		out.ConfigSchema = append(out.ConfigSchema, ConfigField{
			Name: f.GetName(), Description: f.GetDescription(), Secret: f.GetSecret(), Required: f.GetRequired(),
		})
	}
	return out
}

func appToProto(a App) *pb.App {
	return &pb.App{
		ApiBaseUrl:   a.APIBaseURL,
		ClientId:     a.ClientID,
		ClientSecret: a.ClientSecret,
		VerifyToken:  a.VerifyToken,
		Settings:     mapCopy(a.Settings),
	}
}

func appFromProto(a *pb.App) App {
	return App{
		APIBaseURL:   a.GetApiBaseUrl(),
		ClientID:     a.GetClientId(),
		ClientSecret: a.GetClientSecret(),
		VerifyToken:  a.GetVerifyToken(),
		Settings:     mapCopy(a.GetSettings()),
	}
}

func credentialsToProto(c Credentials) *pb.Credentials {
	return &pb.Credentials{
		AccessToken:  c.AccessToken,
		RefreshToken: c.RefreshToken,
		ExpiresAt:    tsToProto(c.ExpiresAt),
		Scopes:       stringsCopy(c.Scopes),
		Extra:        mapCopy(c.Extra),
	}
}

func credentialsFromProto(c *pb.Credentials) Credentials {
	return Credentials{
		AccessToken:  c.GetAccessToken(),
		RefreshToken: c.GetRefreshToken(),
		ExpiresAt:    tsFromProto(c.GetExpiresAt()),
		Scopes:       stringsCopy(c.GetScopes()),
		Extra:        mapCopy(c.GetExtra()),
	}
}

func verifyRequestToProto(r *VerifyRequest) *pb.VerifyRequest {
	if r == nil {
		r = &VerifyRequest{}
	}
	return &pb.VerifyRequest{App: appToProto(r.App), Query: valuesToProto(r.Query), Header: valuesToProto(r.Header)}
}

func verifyRequestFromProto(r *pb.VerifyRequest) *VerifyRequest {
	return &VerifyRequest{App: appFromProto(r.GetApp()), Query: valuesFromProto(r.GetQuery()), Header: valuesFromProto(r.GetHeader())}
}

func verifyResponseToProto(r *VerifyResponse) *pb.VerifyResponse {
	if r == nil {
		return &pb.VerifyResponse{}
	}
	return &pb.VerifyResponse{StatusCode: int32(r.StatusCode), ContentType: r.ContentType, Body: r.Body}
}

func verifyResponseFromProto(r *pb.VerifyResponse) *VerifyResponse {
	return &VerifyResponse{StatusCode: int(r.GetStatusCode()), ContentType: r.GetContentType(), Body: r.GetBody()}
}

func webhookRequestToProto(r *WebhookRequest) *pb.WebhookRequest {
	if r == nil {
		r = &WebhookRequest{}
	}
	return &pb.WebhookRequest{
		App:        appToProto(r.App),
		Method:     r.Method,
		Path:       r.Path,
		Query:      valuesToProto(r.Query),
		Header:     valuesToProto(r.Header),
		Body:       r.Body,
		ReceivedAt: tsToProto(r.ReceivedAt),
	}
}

func webhookRequestFromProto(r *pb.WebhookRequest) *WebhookRequest {
	return &WebhookRequest{
		App:        appFromProto(r.GetApp()),
		Method:     r.GetMethod(),
		Path:       r.GetPath(),
		Query:      valuesFromProto(r.GetQuery()),
		Header:     valuesFromProto(r.GetHeader()),
		Body:       r.GetBody(),
		ReceivedAt: tsFromProto(r.GetReceivedAt()),
	}
}

func eventsToProto(evs []*Event) []*pb.Event {
	var out []*pb.Event
	for _, e := range evs {
		if e != nil {
			out = append(out, eventToProto(e))
		}
	}
	return out
}

func eventsFromProto(evs []*pb.Event) []*Event {
	var out []*Event
	for _, e := range evs {
		out = append(out, eventFromProto(e))
	}
	return out
}

func eventToProto(e *Event) *pb.Event {
	out := &pb.Event{
		Kind:       string(e.Kind),
		Platform:   e.Platform,
		AccountId:  e.AccountID,
		OccurredAt: tsToProto(e.OccurredAt),
	}
	if m := e.Message; m != nil {
		out.Message = &pb.Message{
			ExternalId:    m.ExternalID,
			Action:        string(m.Action),
			Direction:     string(m.Direction),
			ThreadKind:    string(m.ThreadKind),
			ThreadId:      m.ThreadID,
			ThreadSubject: m.ThreadSubject,
			ThreadUrl:     m.ThreadURL,
			ParentId:      m.ParentID,
			ReplyToId:     m.ReplyToID,
			Contact:       contactToProto(&m.Contact),
			Type:          m.Type,
			Text:          m.Text,
			Attachments:   attachmentsToProto(m.Attachments),
			Rating:        int32(m.Rating),
			Timestamp:     tsToProto(m.Timestamp),
			Metadata:      mapCopy(m.Metadata),
		}
	}
	if s := e.Status; s != nil {
		out.Status = &pb.StatusUpdate{
			MessageExternalId: s.MessageExternalID,
			Status:            string(s.Status),
			RecipientId:       s.RecipientID,
			Timestamp:         tsToProto(s.Timestamp),
			Error:             errorToProto(s.Error),
		}
	}
	if a := e.Account; a != nil {
		out.Account = &pb.AccountEvent{Type: a.Type, Detail: mapCopy(a.Detail)}
	}
	if e.Publish != nil {
		out.Publish = publishResultToProto(e.Publish)
	}
	if n := e.Notify; n != nil {
		out.Notify = &pb.Notification{Type: n.Type, ThreadKind: string(n.ThreadKind), ItemId: n.ItemID}
	}
	return out
}

func eventFromProto(e *pb.Event) *Event {
	out := &Event{
		Kind:       EventKind(e.GetKind()),
		Platform:   e.GetPlatform(),
		AccountID:  e.GetAccountId(),
		OccurredAt: tsFromProto(e.GetOccurredAt()),
	}
	if m := e.GetMessage(); m != nil {
		out.Message = &Message{
			ExternalID:    m.GetExternalId(),
			Action:        MessageAction(m.GetAction()),
			Direction:     Direction(m.GetDirection()),
			ThreadKind:    ThreadKind(m.GetThreadKind()),
			ThreadID:      m.GetThreadId(),
			ThreadSubject: m.GetThreadSubject(),
			ThreadURL:     m.GetThreadUrl(),
			ParentID:      m.GetParentId(),
			ReplyToID:     m.GetReplyToId(),
			Contact:       contactFromProto(m.GetContact()),
			Type:          m.GetType(),
			Text:          m.GetText(),
			Attachments:   attachmentsFromProto(m.GetAttachments()),
			Rating:        int(m.GetRating()),
			Timestamp:     tsFromProto(m.GetTimestamp()),
			Metadata:      mapCopy(m.GetMetadata()),
		}
	}
	if s := e.GetStatus(); s != nil {
		out.Status = &StatusUpdate{
			MessageExternalID: s.GetMessageExternalId(),
			Status:            DeliveryStatus(s.GetStatus()),
			RecipientID:       s.GetRecipientId(),
			Timestamp:         tsFromProto(s.GetTimestamp()),
			Error:             errorFromProto(s.GetError()),
		}
	}
	if a := e.GetAccount(); a != nil {
		out.Account = &AccountEvent{Type: a.GetType(), Detail: mapCopy(a.GetDetail())}
	}
	if p := e.GetPublish(); p != nil {
		out.Publish = publishResultFromProto(p)
	}
	if n := e.GetNotify(); n != nil {
		out.Notify = &Notification{Type: n.GetType(), ThreadKind: ThreadKind(n.GetThreadKind()), ItemID: n.GetItemId()}
	}
	return out
}

func attachmentToProto(a Attachment) *pb.Attachment {
	return &pb.Attachment{
		Type: a.Type, Url: a.URL, MimeType: a.MimeType, Caption: a.Caption, ExternalId: a.ExternalID, Name: a.Name,
	}
}

func attachmentFromProto(a *pb.Attachment) Attachment {
	return Attachment{
		Type: a.GetType(), URL: a.GetUrl(), MimeType: a.GetMimeType(), Caption: a.GetCaption(), ExternalID: a.GetExternalId(), Name: a.GetName(),
	}
}

func attachmentsToProto(in []Attachment) []*pb.Attachment {
	var out []*pb.Attachment
	for _, a := range in {
		out = append(out, attachmentToProto(a))
	}
	return out
}

func attachmentsFromProto(in []*pb.Attachment) []Attachment {
	var out []Attachment
	for _, a := range in {
		out = append(out, attachmentFromProto(a))
	}
	return out
}

func sendRequestToProto(r *SendRequest) *pb.SendRequest {
	if r == nil {
		r = &SendRequest{}
	}
	out := &pb.SendRequest{
		App:            appToProto(r.App),
		Credentials:    credentialsToProto(r.Credentials),
		AccountId:      r.AccountID,
		Kind:           string(r.Kind),
		RecipientId:    r.RecipientID,
		ThreadId:       r.ThreadID,
		ReplyToId:      r.ReplyToID,
		Text:           r.Text,
		Attachments:    attachmentsToProto(r.Attachments),
		HumanAgent:     r.HumanAgent,
		IdempotencyKey: r.IdempotencyKey,
	}
	if t := r.Template; t != nil {
		out.Template = &pb.Template{Name: t.Name, Language: t.Language, ComponentsJson: t.ComponentsJSON}
	}
	return out
}

func sendRequestFromProto(r *pb.SendRequest) *SendRequest {
	out := &SendRequest{
		App:            appFromProto(r.GetApp()),
		Credentials:    credentialsFromProto(r.GetCredentials()),
		AccountID:      r.GetAccountId(),
		Kind:           SendKind(r.GetKind()),
		RecipientID:    r.GetRecipientId(),
		ThreadID:       r.GetThreadId(),
		ReplyToID:      r.GetReplyToId(),
		Text:           r.GetText(),
		Attachments:    attachmentsFromProto(r.GetAttachments()),
		HumanAgent:     r.GetHumanAgent(),
		IdempotencyKey: r.GetIdempotencyKey(),
	}
	if t := r.GetTemplate(); t != nil {
		out.Template = &Template{Name: t.GetName(), Language: t.GetLanguage(), ComponentsJSON: t.GetComponentsJson()}
	}
	return out
}

func sendResultToProto(r *SendResult) *pb.SendResult {
	if r == nil {
		return &pb.SendResult{}
	}
	return &pb.SendResult{ExternalId: r.ExternalID, Status: string(r.Status)}
}

func sendResultFromProto(r *pb.SendResult) *SendResult {
	return &SendResult{ExternalID: r.GetExternalId(), Status: DeliveryStatus(r.GetStatus())}
}

func publishRequestToProto(r *PublishRequest) *pb.PublishRequest {
	if r == nil {
		r = &PublishRequest{}
	}
	return &pb.PublishRequest{
		App:            appToProto(r.App),
		Credentials:    credentialsToProto(r.Credentials),
		AccountId:      r.AccountID,
		Platform:       r.Platform,
		Post:           postToProto(&r.Post),
		IdempotencyKey: r.IdempotencyKey,
	}
}

func publishRequestFromProto(r *pb.PublishRequest) *PublishRequest {
	return &PublishRequest{
		App:            appFromProto(r.GetApp()),
		Credentials:    credentialsFromProto(r.GetCredentials()),
		AccountID:      r.GetAccountId(),
		Platform:       r.GetPlatform(),
		Post:           orEmptyPost(postFromProto(r.GetPost())),
		IdempotencyKey: r.GetIdempotencyKey(),
	}
}

func publishResultToProto(r *PublishResult) *pb.PublishResult {
	if r == nil {
		return &pb.PublishResult{}
	}
	return &pb.PublishResult{ExternalId: r.ExternalID, State: string(r.State), Url: r.URL, Error: errorToProto(r.Error)}
}

func publishResultFromProto(r *pb.PublishResult) *PublishResult {
	return &PublishResult{
		ExternalID: r.GetExternalId(),
		State:      PublishState(r.GetState()),
		URL:        r.GetUrl(),
		Error:      errorFromProto(r.GetError()),
	}
}

func publishStatusRequestToProto(r *PublishStatusRequest) *pb.PublishStatusRequest {
	if r == nil {
		r = &PublishStatusRequest{}
	}
	return &pb.PublishStatusRequest{
		App:         appToProto(r.App),
		Credentials: credentialsToProto(r.Credentials),
		AccountId:   r.AccountID,
		Platform:    r.Platform,
		ExternalId:  r.ExternalID,
		// 1.1
		IdempotencyKey: r.IdempotencyKey,
		Post:           postToProto(r.Post),
		Since:          tsToProto(r.Since),
	}
}

func publishStatusRequestFromProto(r *pb.PublishStatusRequest) *PublishStatusRequest {
	return &PublishStatusRequest{
		App:         appFromProto(r.GetApp()),
		Credentials: credentialsFromProto(r.GetCredentials()),
		AccountID:   r.GetAccountId(),
		Platform:    r.GetPlatform(),
		ExternalID:  r.GetExternalId(),
		// 1.1
		IdempotencyKey: r.GetIdempotencyKey(),
		Post:           postFromProto(r.GetPost()),
		Since:          tsFromProto(r.GetSince()),
	}
}

func syncRequestToProto(r *SyncRequest) *pb.SyncRequest {
	if r == nil {
		r = &SyncRequest{}
	}
	return &pb.SyncRequest{
		App:         appToProto(r.App),
		Credentials: credentialsToProto(r.Credentials),
		AccountId:   r.AccountID,
		Cursor:      r.Cursor,
		Since:       tsToProto(r.Since),
		Only:        append([]string(nil), r.Only...),
	}
}

func syncRequestFromProto(r *pb.SyncRequest) *SyncRequest {
	return &SyncRequest{
		App:         appFromProto(r.GetApp()),
		Credentials: credentialsFromProto(r.GetCredentials()),
		AccountID:   r.GetAccountId(),
		Cursor:      r.GetCursor(),
		Since:       tsFromProto(r.GetSince()),
		Only:        append([]string(nil), r.GetOnly()...),
	}
}

func syncResultToProto(r *SyncResult) *pb.SyncResult {
	if r == nil {
		return &pb.SyncResult{}
	}
	return &pb.SyncResult{Events: eventsToProto(r.Events), NextCursor: r.NextCursor, More: r.More}
}

func syncResultFromProto(r *pb.SyncResult) *SyncResult {
	return &SyncResult{Events: eventsFromProto(r.GetEvents()), NextCursor: r.GetNextCursor(), More: r.GetMore()}
}

func credentialsRequestToProto(r *CredentialsRequest) *pb.CredentialsRequest {
	if r == nil {
		r = &CredentialsRequest{}
	}
	return &pb.CredentialsRequest{
		App:         appToProto(r.App),
		Credentials: credentialsToProto(r.Credentials),
		AccountId:   r.AccountID,
	}
}

func credentialsRequestFromProto(r *pb.CredentialsRequest) *CredentialsRequest {
	return &CredentialsRequest{
		App:         appFromProto(r.GetApp()),
		Credentials: credentialsFromProto(r.GetCredentials()),
		AccountID:   r.GetAccountId(),
	}
}

func accountInfoToProto(a *AccountInfo) *pb.AccountInfo {
	if a == nil {
		return &pb.AccountInfo{}
	}
	return &pb.AccountInfo{
		AccountId: a.AccountID,
		Name:      a.Name,
		Platform:  a.Platform,
		Scopes:    stringsCopy(a.Scopes),
		ExpiresAt: tsToProto(a.ExpiresAt),
	}
}

func accountInfoFromProto(a *pb.AccountInfo) *AccountInfo {
	return &AccountInfo{
		AccountID: a.GetAccountId(),
		Name:      a.GetName(),
		Platform:  a.GetPlatform(),
		Scopes:    stringsCopy(a.GetScopes()),
		ExpiresAt: tsFromProto(a.GetExpiresAt()),
	}
}
