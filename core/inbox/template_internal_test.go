package inbox

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A template's body is rendered the way the platform fills it: {{n}}
// takes the n-th parameter, named placeholders take them in the order
// they first appear, a placeholder without a parameter stays.
func TestRenderTemplate(t *testing.T) {
	require.Equal(t, "Hi Ann, order #4 (Ann)", renderTemplate("Hi {{1}}, order {{2}} ({{ 1 }})", []string{"Ann", "#4"}))
	require.Equal(t, "Dear Bo, code 77, Bo", renderTemplate("Dear {{name}}, code {{code}}, {{name}}", []string{"Bo", "77"}))
	require.Equal(t, "Hello {{3}}", renderTemplate("Hello {{3}}", []string{"a"}))
	c, err := bodyComponents([]string{`say "hi"`})
	require.NoError(t, err)
	require.JSONEq(t, `[{"type":"body","parameters":[{"type":"text","text":"say \"hi\""}]}]`, c)
	c, err = bodyComponents(nil)
	require.NoError(t, err)
	require.Empty(t, c)
}
