package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/neksio/neksio/plugins/sdk"
)

// MaxTextLength is the longest text body the Cloud API accepts, in
// characters.
const MaxTextLength = 4096

// maxResponse bounds what the connector reads of any answer.
const maxResponse = 1 << 20

type outMessage struct {
	MessagingProduct string       `json:"messaging_product"`
	RecipientType    string       `json:"recipient_type"`
	To               string       `json:"to"`
	Type             string       `json:"type"`
	Context          *outContext  `json:"context,omitempty"`
	Text             *outText     `json:"text,omitempty"`
	Template         *outTemplate `json:"template,omitempty"`
	Image            *outMedia    `json:"image,omitempty"`
	Audio            *outMedia    `json:"audio,omitempty"`
	Video            *outMedia    `json:"video,omitempty"`
	Document         *outMedia    `json:"document,omitempty"`
	Sticker          *outMedia    `json:"sticker,omitempty"`
}

type outContext struct {
	MessageID string `json:"message_id"`
}

type outText struct {
	Body string `json:"body"`
}

type outTemplate struct {
	Name     string `json:"name"`
	Language struct {
		Code string `json:"code"`
	} `json:"language"`
	Components json.RawMessage `json:"components,omitempty"`
}

type outMedia struct {
	ID       string `json:"id,omitempty"`
	Link     string `json:"link,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

type sendResponse struct {
	Messages []struct {
		ID flexString `json:"id"`
	} `json:"messages"`
}

func (c *connector) Send(ctx context.Context, req *sdk.SendRequest) (*sdk.SendResult, error) {
	if req.Kind != sdk.SendDirect {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "whatsapp: send kind %q is not supported: WhatsApp has direct messages only", req.Kind)
	}
	if req.AccountID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "whatsapp: send needs the channel's phone_number_id")
	}
	if len(req.Attachments) == 1 && req.Template == nil {
		a := req.Attachments[0]
		upload := req.App.Settings[SettingUploadMedia] == "true" && a.URL != "" && a.ExternalID == ""
		rule, err := checkAttachment(a, !upload, allowPrivateMedia(req.App))
		if err != nil {
			return nil, err
		}
		if upload {
			if _, err := buildMessage(req); err != nil {
				return nil, err // refuse a bad message before uploading its file
			}
			id, err := c.upload(ctx, req, a, rule)
			if err != nil {
				return nil, err
			}
			cp := *req
			a.URL, a.ExternalID = "", id
			cp.Attachments = []sdk.Attachment{a}
			req = &cp
		}
	}
	msg, err := buildMessage(req)
	if err != nil {
		return nil, err
	}
	var out sendResponse
	if err := c.call(ctx, req.App, req.Credentials.AccessToken, http.MethodPost,
		url.PathEscape(req.AccountID)+"/messages", nil, msg, &out); err != nil {
		return nil, err
	}
	if len(out.Messages) == 0 || out.Messages[0].ID == "" {
		// The platform took the request; a retry could send it twice.
		return nil, sdk.NewError(sdk.ClassPermanent, "", "whatsapp: send answered without a message id")
	}
	return &sdk.SendResult{ExternalID: string(out.Messages[0].ID), Status: sdk.StatusSent}, nil
}

// buildMessage checks a send before it goes out, so requests the platform
// would reject never cost a call or a rate-limit slot.
func buildMessage(req *sdk.SendRequest) (*outMessage, error) {
	to := req.RecipientID
	if to == "" {
		to = req.ThreadID // a WhatsApp thread is the customer's wa_id
	}
	if to == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "whatsapp: send needs a recipient wa_id")
	}
	m := &outMessage{MessagingProduct: "whatsapp", RecipientType: "individual", To: to}
	if req.ReplyToID != "" {
		m.Context = &outContext{MessageID: req.ReplyToID}
	}
	if n := utf8.RuneCountInString(req.Text); n > MaxTextLength {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "whatsapp: text is %d characters, the limit is %d", n, MaxTextLength)
	}

	switch {
	case req.Template != nil:
		// Text is ignored: the template's approved body is what is sent.
		if len(req.Attachments) > 0 {
			return nil, sdk.NewError(sdk.ClassPermanent, "", "whatsapp: template media goes in the template's header component, not in attachments")
		}
		t := req.Template
		if t.Name == "" || t.Language == "" {
			return nil, sdk.NewError(sdk.ClassPermanent, "", "whatsapp: a template needs a name and a language code")
		}
		ot := &outTemplate{Name: t.Name}
		ot.Language.Code = t.Language
		if len(bytes.TrimSpace(t.ComponentsJSON)) > 0 {
			var comps []json.RawMessage
			if err := json.Unmarshal(t.ComponentsJSON, &comps); err != nil {
				return nil, sdk.NewError(sdk.ClassPermanent, "", "whatsapp: template components are not a JSON array: %v", err)
			}
			ot.Components = t.ComponentsJSON
		}
		m.Type, m.Template = "template", ot
	case len(req.Attachments) > 1:
		return nil, sdk.NewError(sdk.ClassPermanent, "", "whatsapp: a message carries one media: send %d attachments as separate messages", len(req.Attachments))
	case len(req.Attachments) == 1:
		if err := setMedia(m, req.Attachments[0], req.Text); err != nil {
			return nil, err
		}
	case strings.TrimSpace(req.Text) == "":
		return nil, sdk.NewError(sdk.ClassPermanent, "", "whatsapp: nothing to send: no text, template or attachment")
	default:
		m.Type, m.Text = "text", &outText{Body: req.Text}
	}
	return m, nil
}

func setMedia(m *outMessage, a sdk.Attachment, text string) error {
	typ := a.Type
	if typ == "" {
		typ, _, _ = strings.Cut(a.MimeType, "/")
		if typ == "application" || typ == "text" {
			typ = "document"
		}
	}
	om := &outMedia{Caption: a.Caption}
	switch {
	case a.URL != "":
		u, err := url.Parse(a.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return sdk.NewError(sdk.ClassPermanent, "", "whatsapp: media must be at a public http(s) URL, got %q", a.URL)
		}
		om.Link = a.URL
	case a.ExternalID != "":
		om.ID = a.ExternalID // a media id from the Cloud API's /media upload
	default:
		return sdk.NewError(sdk.ClassPermanent, "", "whatsapp: attachment has neither a URL nor a media id")
	}
	captioned := true
	switch typ {
	case "image":
		m.Image = om
	case "video":
		m.Video = om
	case "file", "document":
		typ = "document"
		om.Filename = a.Name
		m.Document = om
	case "audio":
		m.Audio, captioned = om, false
	case "sticker":
		m.Sticker, captioned = om, false
	default:
		return sdk.NewError(sdk.ClassPermanent, "", "whatsapp: attachment type %q cannot be sent", a.Type)
	}
	if om.Caption == "" && captioned {
		om.Caption = text
	}
	if !captioned && (om.Caption != "" || strings.TrimSpace(text) != "") {
		return sdk.NewError(sdk.ClassPermanent, "", "whatsapp: %s messages carry no text: send the text separately", typ)
	}
	m.Type = typ
	return nil
}

type phoneNumber struct {
	ID                 flexString `json:"id"`
	DisplayPhoneNumber string     `json:"display_phone_number"`
	VerifiedName       string     `json:"verified_name"`
}

func (c *connector) ValidateCredentials(ctx context.Context, req *sdk.CredentialsRequest) (*sdk.AccountInfo, error) {
	if req.AccountID == "" {
		return nil, sdk.NewError(sdk.ClassPermanent, "", "whatsapp: validating credentials needs the phone_number_id")
	}
	var pn phoneNumber
	q := url.Values{"fields": {"display_phone_number,verified_name"}}
	if err := c.call(ctx, req.App, req.Credentials.AccessToken, http.MethodGet,
		url.PathEscape(req.AccountID), q, nil, &pn); err != nil {
		return nil, err
	}
	id := string(pn.ID)
	if id == "" {
		id = req.AccountID
	}
	name := pn.VerifiedName
	if name == "" {
		name = pn.DisplayPhoneNumber
	}
	return &sdk.AccountInfo{AccountID: id, Name: name, Platform: Platform, Scopes: req.Credentials.Scopes}, nil
}

// call makes one Cloud API request and decodes a 2xx answer into out;
// every failure comes back classified.
func (c *connector) call(ctx context.Context, app sdk.App, token, method, path string, query url.Values, in, out any) error {
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	if in == nil {
		return c.callBody(ctx, app, token, method, path, nil, "", out)
	}
	b, err := json.Marshal(in)
	if err != nil {
		return sdk.NewError(sdk.ClassPermanent, "", "whatsapp: encode request: %v", err)
	}
	return c.callBody(ctx, app, token, method, path, bytes.NewReader(b), "application/json", out)
}

// callBody is call with a body already encoded as contentType (a media
// upload's multipart form); path may carry a query.
func (c *connector) callBody(ctx context.Context, app sdk.App, token, method, path string, body io.Reader, contentType string, out any) error {
	if token == "" {
		return sdk.NewError(sdk.ClassAuthRevoked, "", "whatsapp: the channel has no access token")
	}
	u := baseURL(app) + "/" + path
	path, _, _ = strings.Cut(path, "?") // errors name the path, not the query
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return sdk.NewError(sdk.ClassPermanent, "", "whatsapp: build request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := c.client
	if body != nil && contentType != "application/json" {
		client = c.uploads // a file may take longer than an API call
	}
	resp, err := client.Do(req)
	if err != nil {
		// Network errors, timeouts and cancellations may succeed later.
		return sdk.NewError(sdk.ClassRetryable, "", "whatsapp: %s %s: %v", method, path, unwrapURLError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return sdk.NewError(sdk.ClassRetryable, "", "whatsapp: read %s %s answer: %v", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := classifyResponse(resp.StatusCode, resp.Header, b, c.now())
		e.Message = "whatsapp: " + method + " " + path + ": " + e.Message
		return e
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return sdk.NewError(sdk.ClassRetryable, "", "whatsapp: %s %s answered %d with an unreadable body: %s", method, path, resp.StatusCode, snippet(b))
		}
	}
	return nil
}

// unwrapURLError drops *url.Error's method and URL, which call already
// names, keeping the cause.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
