package builtin_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/neksio/neksio/core/ai"
	"github.com/neksio/neksio/core/ai/builtin"
)

func TestLexiconSentimentLabels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		want ai.SentimentLabel
	}{
		{"The croissants are amazing, best in town", ai.SentimentPositive},
		{"love this place ❤️", ai.SentimentPositive},
		{"👍👍", ai.SentimentPositive},
		{"great coffee :)", ai.SentimentPositive},
		{"this slaps fr 🔥", ai.SentimentPositive},
		{"soooo good", ai.SentimentPositive},
		{"not bad at all", ai.SentimentPositive},
		{"Terrible service, cold coffee", ai.SentimentNegative},
		{"not good", ai.SentimentNegative},
		{"never again", ai.SentimentNegative},
		{"😡😡", ai.SentimentNegative},
		{"order still not here :(", ai.SentimentNegative},
		{"total rip off smh", ai.SentimentNegative},
		{"The cake looked nice but it was stale and overpriced", ai.SentimentNegative},
		{"The wait was long but the staff were lovely", ai.SentimentPositive},
		{"what time do you open on sunday?", ai.SentimentNeutral},
		{"", ai.SentimentNeutral},
	} {
		got := builtin.LexiconSentiment(tc.text)
		require.Equal(t, tc.want, got.Label, "%q scored %v", tc.text, got.Score)
		require.GreaterOrEqual(t, got.Score, -1.0)
		require.LessOrEqual(t, got.Score, 1.0)
	}
}

func TestLexiconSentimentModifiers(t *testing.T) {
	t.Parallel()
	score := func(s string) float64 { return builtin.LexiconSentiment(s).Score }
	require.Greater(t, score("the food was very good"), score("the food was good"), "booster")
	require.Less(t, score("the food was slightly good"), score("the food was good"), "dampener")
	require.Greater(t, score("the food was good!!!"), score("the food was good"), "exclamation")
	require.Greater(t, score("the food was GOOD"), score("the food was good"), "caps")
	require.Less(t, score("the food was very bad"), score("the food was bad"), "booster on negative")
	require.Less(t, score("not good"), 0.0)
	require.Less(t, score("don't like it"), 0.0)
}

func TestBuiltinSentimentProvider(t *testing.T) {
	t.Parallel()
	s, err := builtin.New().Sentiment(context.Background(), "worst order ever 🤬")
	require.NoError(t, err)
	require.Equal(t, ai.SentimentNegative, s.Label)
}

func TestWantsHuman(t *testing.T) {
	t.Parallel()
	for _, text := range []string{
		"can I talk to a person please",
		"I want to speak to a real human",
		"agent please",
		"HUMAN PLS",
		"are you a bot?",
		"r u a bot",
		"get me a manager now",
		"Can someone from your team call me?",
		"connect me with a representative",
	} {
		require.True(t, builtin.WantsHuman(text, nil), text)
	}
	for _, text := range []string{
		"what time do you open?",
		"the person at the counter was lovely",
		"your agent answered quickly, thanks",
		"I need someone to pick up my cake on Saturday",
		"",
	} {
		require.False(t, builtin.WantsHuman(text, nil), text)
	}
	require.True(t, builtin.WantsHuman("I want to make a COMPLAINT", []string{"complaint"}))
	require.True(t, builtin.WantsHuman("hablar con el dueño", []string{"Dueño"}))
	require.False(t, builtin.WantsHuman("complaints department?", []string{"complaint"}), "keywords match whole words")
}
