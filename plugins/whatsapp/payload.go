package whatsapp

import (
	"bytes"
	"encoding/json"
)

// The webhook shapes below follow the Cloud API documentation. Fields are
// decoded tolerantly: ids and timestamps as flexString (string or number),
// unknown fields ignored, and a field of the wrong type loses only itself.

type webhookPayload struct {
	Object string         `json:"object"`
	Entry  []webhookEntry `json:"entry"`
}

type webhookEntry struct {
	ID      flexString      `json:"id"` // the WhatsApp Business Account id
	Changes []webhookChange `json:"changes"`
}

type webhookChange struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}

type changeValue struct {
	MessagingProduct string `json:"messaging_product"`
	Metadata         struct {
		DisplayPhoneNumber flexString `json:"display_phone_number"`
		PhoneNumberID      flexString `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []struct {
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
		WaID flexString `json:"wa_id"`
	} `json:"contacts"`
	// Messages are decoded one by one so that one odd message cannot
	// take its neighbours down with it.
	Messages []json.RawMessage `json:"messages"`
	// MessageEchoes are the business's own sends from the WhatsApp
	// Business app, when the number is shared with it (coexistence).
	MessageEchoes []json.RawMessage `json:"message_echoes"`
	Statuses      []json.RawMessage `json:"statuses"`
	Errors        []apiError        `json:"errors"`
}

type apiError struct {
	Code      flexString `json:"code"`
	Title     string     `json:"title"`
	Message   string     `json:"message"`
	Href      string     `json:"href"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

type inMessage struct {
	From      flexString `json:"from"`
	To        flexString `json:"to"` // echoes only
	ID        flexString `json:"id"`
	Timestamp flexString `json:"timestamp"`
	Type      string     `json:"type"`
	Context   *struct {
		From                flexString `json:"from"`
		ID                  flexString `json:"id"`
		Forwarded           flexString `json:"forwarded"`
		FrequentlyForwarded flexString `json:"frequently_forwarded"`
		ReferredProduct     *struct {
			CatalogID         flexString `json:"catalog_id"`
			ProductRetailerID flexString `json:"product_retailer_id"`
		} `json:"referred_product"`
	} `json:"context"`
	Text *struct {
		Body string `json:"body"`
	} `json:"text"`
	Image    *inMedia      `json:"image"`
	Audio    *inMedia      `json:"audio"`
	Video    *inMedia      `json:"video"`
	Document *inMedia      `json:"document"`
	Sticker  *inMedia      `json:"sticker"`
	Location *inLocation   `json:"location"`
	Contacts []contactCard `json:"contacts"`
	Reaction *struct {
		MessageID flexString `json:"message_id"`
		Emoji     string     `json:"emoji"`
	} `json:"reaction"`
	Interactive *struct {
		Type        string `json:"type"`
		ButtonReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"button_reply"`
		ListReply *struct {
			ID          string `json:"id"`
			Title       string `json:"title"`
			Description string `json:"description"`
		} `json:"list_reply"`
		NfmReply *struct {
			Name         string `json:"name"`
			Body         string `json:"body"`
			ResponseJSON string `json:"response_json"`
		} `json:"nfm_reply"`
	} `json:"interactive"`
	Button *struct {
		Payload string `json:"payload"`
		Text    string `json:"text"`
	} `json:"button"`
	Order *struct {
		CatalogID    flexString `json:"catalog_id"`
		Text         string     `json:"text"`
		ProductItems []struct {
			ProductRetailerID flexString `json:"product_retailer_id"`
			Quantity          flexString `json:"quantity"`
			ItemPrice         flexString `json:"item_price"`
			Currency          string     `json:"currency"`
		} `json:"product_items"`
	} `json:"order"`
	System *struct {
		Body    string     `json:"body"`
		Type    string     `json:"type"`
		WaID    flexString `json:"wa_id"`
		NewWaID flexString `json:"new_wa_id"`
	} `json:"system"`
	Referral *struct {
		SourceURL    string     `json:"source_url"`
		SourceID     flexString `json:"source_id"`
		SourceType   string     `json:"source_type"`
		Headline     string     `json:"headline"`
		Body         string     `json:"body"`
		MediaType    string     `json:"media_type"`
		ImageURL     string     `json:"image_url"`
		VideoURL     string     `json:"video_url"`
		ThumbnailURL string     `json:"thumbnail_url"`
		CtwaClid     string     `json:"ctwa_clid"`
	} `json:"referral"`
	Errors []apiError `json:"errors"`
}

type inMedia struct {
	ID       flexString `json:"id"`
	MimeType string     `json:"mime_type"`
	SHA256   string     `json:"sha256"`
	Caption  string     `json:"caption"`
	Filename string     `json:"filename"`
	URL      string     `json:"url"`
	Voice    flexString `json:"voice"`
	Animated flexString `json:"animated"`
}

type inLocation struct {
	Latitude  flexString `json:"latitude"`
	Longitude flexString `json:"longitude"`
	Name      string     `json:"name"`
	Address   string     `json:"address"`
	URL       string     `json:"url"`
}

type contactCard struct {
	Name struct {
		FormattedName string `json:"formatted_name"`
		FirstName     string `json:"first_name"`
		LastName      string `json:"last_name"`
	} `json:"name"`
	Phones []struct {
		Phone string     `json:"phone"`
		WaID  flexString `json:"wa_id"`
		Type  string     `json:"type"`
	} `json:"phones"`
	Emails []struct {
		Email string `json:"email"`
	} `json:"emails"`
}

type inStatus struct {
	ID          flexString `json:"id"`
	Status      string     `json:"status"`
	Timestamp   flexString `json:"timestamp"`
	RecipientID flexString `json:"recipient_id"`
	Errors      []apiError `json:"errors"`
}

// flexString accepts a JSON string, number or boolean as text, and null as
// empty: the docs show ids and timestamps as strings, but a number must not
// fail a whole delivery. Objects and arrays read as empty rather than fail,
// because an Unmarshaler error would abort decoding the whole message.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*f = ""
	if len(b) == 0 {
		return nil
	}
	switch {
	case b[0] == '"':
		var s string
		if json.Unmarshal(b, &s) == nil {
			*f = flexString(s)
		}
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		var n json.Number
		if json.Unmarshal(b, &n) == nil {
			*f = flexString(n.String())
		}
	case bytes.Equal(b, []byte("true")) || bytes.Equal(b, []byte("false")):
		*f = flexString(b)
	}
	return nil
}
