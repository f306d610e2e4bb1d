package webhook_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/ai/builtin"
	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/secret"
	"github.com/neksio/neksio/core/sentiment"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/webhook"
	"github.com/neksio/neksio/core/workspace"
	entchannel "github.com/neksio/neksio/ent/channel"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/internal/testenv"
	"github.com/neksio/neksio/plugins/sdk"
	"github.com/neksio/neksio/plugins/whatsapp"
	wasandbox "github.com/neksio/neksio/plugins/whatsapp/sandbox"
)

// MaxStatementsPerDelivery is the SQL a webhook delivery of one message
// from a known customer may cost, begin and commit included: the lookup
// (the conversation with its contact and the message's duplicate check,
// one statement), the message (scored as it is stored with the built-in
// model), the conversation's update (with the built-in model's roll-up
// in it), the conversation's sentiment job (an external model only), the
// change events (PostgreSQL; in the job's round trip when there is one),
// the commit. The built-in model's path costs 6 on PostgreSQL, 5 on
// SQLite; the job's 7 and 6.
const MaxStatementsPerDelivery = 7

// MaxStatementsScoredOnIngest is MaxStatementsPerDelivery without the
// job: the built-in model's path.
const MaxStatementsScoredOnIngest = MaxStatementsPerDelivery - 1

// A WhatsApp delivery of one message from a known customer costs at most
// MaxStatementsScoredOnIngest statements with the built-in model (scored
// in the transaction) and MaxStatementsPerDelivery with a model that is
// not local (a job queued), on both databases; it is stored once, and its
// redelivery stores nothing.
func TestStatementsPerDelivery(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, d storetest.Dialect) {
		t.Run("local", func(t *testing.T) { statementsPerDelivery(t, d, builtin.New(), MaxStatementsScoredOnIngest) })
		t.Run("job", func(t *testing.T) { statementsPerDelivery(t, d, remote{builtin.New()}, MaxStatementsPerDelivery) })
	})
}

// remote is the built-in model behind a provider that does not say it is
// local (ai.LocalSentiment), as an external model would not.
type remote struct{ ai.Provider }

func statementsPerDelivery(t *testing.T, d storetest.Dialect, provider ai.Provider, most int) {
	const appSecret, phoneID = "count-app-secret", "106540352242922"
	s, counter := storetest.OpenCounting(t, d)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secret.New(key)
	require.NoError(t, err)
	gw := testenv.Gateway(whatsapp.New())
	channels := &channel.Service{Store: s, Box: box, Gateway: gw,
		Apps: func(string) sdk.App {
			return sdk.App{Settings: map[string]string{whatsapp.SettingAppSecret: appSecret}}
		}}
	in := &inbox.Service{Store: s, Gateway: gw, Channels: channels}
	fb := &sentiment.Service{Store: s, Provider: provider}
	fb.Attach(in)
	ctx := context.Background()
	ws, err := workspace.Create(ctx, s, "count")
	require.NoError(t, err)
	sys := tenant.NewContext(ctx, tenant.System(string(ws.ID), "test"))
	_, err = s.Ent.Channel.Create().SetWorkspaceID(ws.ID).SetConnector("whatsapp").SetPlatform("whatsapp").
		SetExternalID(phoneID).SetName("count").SetAiMode(entchannel.AiModeOff).Save(sys)
	require.NoError(t, err)
	mux := http.NewServeMux()
	(&webhook.Handler{Store: s, Gateway: gw, Channels: channels, Inbox: in, MaxBytes: 1 << 20}).Register(mux, nil)
	deliver := func(body []byte) {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/webhooks/whatsapp", bytes.NewReader(body))
		req.Header.Set("X-Hub-Signature-256", wasandbox.Sign(appSecret, body))
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
	}

	deliver(wasandbox.TextMessage(phoneID, "16505550100", "Ada", "First message")) // a new customer
	for i := range 3 {
		counter.Start()
		deliver(wasandbox.TextMessage(phoneID, "16505550100", "Ada", "Again"))
		stmts := storetest.WithoutWakeUps(counter.Stop())
		require.LessOrEqual(t, len(stmts), most, "delivery %d:\n%s", i, storetest.Summary(stmts))
		if i == 0 {
			t.Logf("%d statements:\n%s", len(stmts), storetest.Summary(stmts))
		}
	}
	n, err := s.Ent.Message.Query().Where(message.DirectionEQ(message.DirectionInbound)).Count(sys)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	if ai.SentimentScorer(provider) != nil {
		require.Zero(t, storetest.CountJobs(t, s.DB, "sentiment.analyze"), "scored in the ingest's transaction")
		n, err = s.Ent.Message.Query().Where(message.DirectionEQ(message.DirectionInbound), message.SentimentScoreNotNil()).Count(sys)
		require.NoError(t, err)
		require.Equal(t, 4, n)
	} else {
		require.Equal(t, 1, storetest.CountJobs(t, s.DB, "sentiment.analyze"), "one job waits per conversation")
	}

	body := wasandbox.TextMessage(phoneID, "16505550100", "Ada", "Once")
	deliver(body)
	deliver(body) // the platform retries
	n, err = s.Ent.Message.Query().Where(message.Text("Once")).Count(sys)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}
