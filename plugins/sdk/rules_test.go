package sdk_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/plugins/sdk"
)

func TestRules(t *testing.T) {
	t.Parallel()
	d := &sdk.Description{Rules: []sdk.PlatformRules{{
		Platform:     "instagram",
		ReplyWindows: []sdk.ReplyWindow{{ThreadKind: sdk.ThreadDirect, Window: 24 * time.Hour}},
		Publish:      []sdk.PublishRule{{Format: "reel", MinMedia: 1, Media: []sdk.MediaRule{{Kind: "video", MimeTypes: []string{"video/mp4"}}}}},
	}}}
	r := d.RulesFor("Instagram")
	require.NotNil(t, r)
	require.Nil(t, d.RulesFor("tiktok"))
	require.Nil(t, (*sdk.Description)(nil).RulesFor("x"))

	w, ok := r.Window(sdk.ThreadDirect)
	require.True(t, ok)
	require.Equal(t, 24*time.Hour, w.Window)
	_, ok = r.Window(sdk.ThreadComment)
	require.False(t, ok)

	f, ok := r.Format("REEL")
	require.True(t, ok)
	_, ok = r.Format("story")
	require.False(t, ok)
	m, ok := sdk.MediaRuleFor(f.Media, "video")
	require.True(t, ok)
	require.True(t, m.Accepts("video/mp4; codecs=avc1"))
	require.False(t, m.Accepts("video/quicktime"))
	_, ok = sdk.MediaRuleFor(f.Media, "image")
	require.False(t, ok)
	require.True(t, sdk.MediaRule{Kind: "image"}.Accepts("image/webp"), "no list accepts any type")
}

func TestHashtagsAndLength(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]int{
		"":                                0,
		"#coffee":                         1,
		"new #coffee #Café_2 today":       2,
		"issue#3 is not a tag, # neither": 0,
		"#a#b":                            1, // '#b' follows a word character
		"(#tag) and #tag.":                2,
	} {
		require.Equal(t, want, sdk.Hashtags(text), text)
	}
	require.Equal(t, 5, sdk.TextLength("café!"))
}

func TestAttachmentKind(t *testing.T) {
	for _, c := range []struct {
		a    sdk.Attachment
		want string
	}{
		{sdk.Attachment{Type: "image", MimeType: "video/mp4"}, "image"},
		{sdk.Attachment{Type: "FILE"}, "document"},
		{sdk.Attachment{Type: "sticker"}, "sticker"},
		{sdk.Attachment{MimeType: "video/mp4"}, "video"},
		{sdk.Attachment{MimeType: "Audio/ogg"}, "audio"},
		{sdk.Attachment{MimeType: "application/pdf"}, "document"},
		{sdk.Attachment{}, ""},
	} {
		if got := sdk.AttachmentKind(c.a); got != c.want {
			t.Errorf("AttachmentKind(%+v) = %q, want %q", c.a, got, c.want)
		}
	}
}
