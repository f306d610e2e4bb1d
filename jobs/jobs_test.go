package jobs_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/channel"
	"github.com/neksio/neksio/core/inbox"
	"github.com/neksio/neksio/core/secret"
	"github.com/neksio/neksio/core/store"
	"github.com/neksio/neksio/core/store/storetest"
	"github.com/neksio/neksio/core/tenant"
	"github.com/neksio/neksio/core/workspace"
	"github.com/neksio/neksio/ent"
	"github.com/neksio/neksio/ent/message"
	"github.com/neksio/neksio/ent/schema/pulid"
	"github.com/neksio/neksio/plugins/sdk"
)

// connector is a fake connector: send decides each call's answer, and
// sends counts the calls.
type connector struct {
	sdk.UnimplementedConnector
	calls atomic.Int64
	send  func(n int64, req *sdk.SendRequest) (*sdk.SendResult, error)
}

func (c *connector) Describe(context.Context) (*sdk.Description, error) {
	return &sdk.Description{Name: "fake", Version: "1", Platforms: []string{"whatsapp"}}, nil
}

func (c *connector) Send(_ context.Context, req *sdk.SendRequest) (*sdk.SendResult, error) {
	return c.send(c.calls.Add(1), req)
}

func sent(_ int64, req *sdk.SendRequest) (*sdk.SendResult, error) {
	return &sdk.SendResult{ExternalID: "wamid-" + req.IdempotencyKey, Status: sdk.StatusSent}, nil
}

type gateway struct{ c sdk.Connector }

func (g gateway) Get(string) (sdk.Connector, error) { return g.c, nil }

type bundle struct {
	store  *store.Store
	inbox  *inbox.Service
	conn   *connector
	ch     *ent.Channel
	ws     string
	sys    context.Context
	member context.Context
}

func newBundle(t *testing.T, d storetest.Dialect) *bundle {
	t.Helper()
	s := storetest.Open(t, d)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secret.New(key)
	require.NoError(t, err)
	conn := &connector{send: sent}
	channels := &channel.Service{Store: s, Box: box, Gateway: gateway{conn}}
	ctx := context.Background()
	w, err := workspace.Create(ctx, s, "cafe")
	require.NoError(t, err)
	ws := string(w.ID)
	member := tenant.NewContext(ctx, tenant.Member(ws, tenant.RoleOwner, "key_test", ""))
	ch, err := channels.Connect(member, channel.ConnectInput{Connector: "fake", ExternalID: "106540352242922",
		Name: "Shop", Credentials: map[string]any{"accessToken": "t"}})
	require.NoError(t, err)
	return &bundle{store: s, inbox: &inbox.Service{Store: s, Gateway: gateway{conn}, Channels: channels}, conn: conn,
		ch: ch, ws: ws, sys: tenant.NewContext(ctx, tenant.System(ws, "test")), member: member}
}

// inbound stores a customer's message in a new conversation.
func (b *bundle) inbound(t *testing.T, text string) *ent.Message {
	t.Helper()
	require.NoError(t, b.store.InTx(b.sys, func(tx *store.Tx) error {
		_, err := b.inbox.Ingest(b.sys, tx, b.ch, []*sdk.Event{{Kind: sdk.EventMessage, Message: &sdk.Message{
			ExternalID: "wamid.in", ThreadID: "16505551234", ThreadKind: sdk.ThreadDirect, Direction: sdk.Inbound,
			Contact: sdk.Contact{ExternalID: "16505551234"}, Text: text, Timestamp: time.Now()}}})
		return err
	}))
	msg, err := b.store.Ent.Message.Query().Where(message.ExternalID("wamid.in")).Only(b.sys)
	require.NoError(t, err)
	return msg
}

// reply stores a reply to a customer's message; its outbound.deliver job
// is queued with it.
func (b *bundle) reply(t *testing.T) *ent.Message {
	t.Helper()
	in := b.inbound(t, "hi")
	out, err := b.inbox.SendReply(b.member, inbox.Reply{ConversationID: in.ConversationID, Text: "hello"})
	require.NoError(t, err)
	return out
}

func (b *bundle) message(t *testing.T, id string) *ent.Message {
	t.Helper()
	m, err := b.store.Ent.Message.Query().Where(message.ID(pulid.ID(id))).WithConversation().Only(b.sys)
	require.NoError(t, err)
	return m
}

// riverDB is where rivertest keeps its jobs: rivertest holds a
// transaction open across a job's work, which on SQLite (one writer at a
// time, one connection) would lock the workers' own writes out; there it
// gets a database of its own. PostgreSQL shares the store's.
func riverDB(t *testing.T, b *bundle, d storetest.Dialect) (riverdriver.Driver[*sql.Tx], *sql.DB) {
	t.Helper()
	if d == storetest.SQLite {
		r := storetest.Open(t, storetest.SQLite)
		return r.Driver, r.DB
	}
	return b.store.Driver, b.store.DB
}

func handedOff(t *testing.T, b *bundle, m *ent.Message) string {
	t.Helper()
	conv, err := b.store.Ent.Conversation.Get(b.sys, m.ConversationID)
	require.NoError(t, err)
	require.NotNil(t, conv.HandedOffAt, "the conversation is handed to a person")
	return conv.HandoffReason
}
