package sdk

import (
	"bufio"
	"io"
	"mime"
	"net/http"
	"strings"
)

// CodeTooLarge is the Error.Code of media above the size the host accepts.
const CodeTooLarge = "too_large"

// MediaFromResponse turns a successful download into MediaContent for
// FetchMedia: it refuses a declared length above maxBytes before reading
// anything, fails the body with a permanent CodeTooLarge error past
// maxBytes (zero means no limit), and reports the type the server names,
// sniffing the first bytes when it names none or only
// application/octet-stream. name is used unless the response carries a
// Content-Disposition file name. Closing the content closes resp.Body.
func MediaFromResponse(resp *http.Response, maxBytes int64, name string) (*MediaContent, error) {
	size := resp.ContentLength
	if maxBytes > 0 && size > maxBytes {
		resp.Body.Close()
		return nil, NewError(ClassPermanent, CodeTooLarge, "media is %d bytes, more than the %d accepted", size, maxBytes)
	}
	if size < 0 {
		size = -1
	}
	br := bufio.NewReaderSize(resp.Body, 512)
	mimeType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mimeType == "" || mimeType == "application/octet-stream" {
		head, _ := br.Peek(512)
		if len(head) > 0 {
			mimeType, _, _ = mime.ParseMediaType(http.DetectContentType(head))
		}
	}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil && params["filename"] != "" {
		name = params["filename"]
	}
	var body io.Reader = br
	if maxBytes > 0 {
		body = &capped{r: br, left: maxBytes, max: maxBytes}
	}
	return &MediaContent{MimeType: strings.ToLower(mimeType), Size: size, Name: name,
		Body: readCloser{Reader: body, Closer: resp.Body}}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// capped reads at most max bytes and fails, rather than truncating, when
// there are more.
type capped struct {
	r         io.Reader
	left, max int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		if n, _ := io.ReadFull(c.r, one[:]); n > 0 {
			return 0, NewError(ClassPermanent, CodeTooLarge, "media is larger than %d bytes", c.max)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
