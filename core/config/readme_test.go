package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// envTags lists the variable of every field of t, nested structs included
// (with caarlos0/env's envPrefix).
func envTags(t reflect.Type, prefix string) []string {
	var out []string
	for f := range t.Fields() {
		if f.Type.Kind() == reflect.Struct && f.Type.String() != "time.Duration" {
			out = append(out, envTags(f.Type, prefix+f.Tag.Get("envPrefix"))...)
			continue
		}
		if tag := f.Tag.Get("env"); tag != "" && tag != "-" {
			out = append(out, prefix+strings.Split(tag, ",")[0])
		}
	}
	return out
}

// readmeSettings is every NEKSIO_ variable named in the first column of the
// README's configuration table, with "NEKSIO_X_A, _B" rows expanded to
// NEKSIO_X_A and NEKSIO_X_B, and "A / B" rows split.
func readmeSettings(t *testing.T) map[string]string {
	raw, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(raw), "\n## Configuration\n")
	require.True(t, ok, "README has a Configuration section")
	section, _, _ = strings.Cut(section, "\n## ")
	name := regexp.MustCompile("`(NEKSIO_[A-Z0-9_<>]+|_[A-Z0-9_]+)`")
	out := map[string]string{}
	for _, line := range strings.Split(section, "\n") {
		cols := strings.Split(line, "|")
		if len(cols) < 4 || !strings.Contains(cols[1], "NEKSIO_") {
			continue
		}
		base := ""
		for _, m := range name.FindAllStringSubmatch(cols[1], -1) {
			v := m[1]
			if strings.HasPrefix(v, "_") {
				// A continuation: the row's first name up to its
				// connector part, e.g. NEKSIO_META + _APP_ID.
				v = base + v
			} else {
				parts := strings.SplitN(v, "_", 3)
				if len(parts) == 3 {
					base = parts[0] + "_" + parts[1]
				}
			}
			out[v] = strings.TrimSpace(cols[2])
		}
	}
	return out
}

// TestREADMEDocumentsEverySetting keeps the README's configuration table
// and Config one list: a field without a row fails, and so does a row for a
// core setting that Config does not read.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	documented := readmeSettings(t)
	tags := envTags(reflect.TypeFor[Config](), "")
	require.NotEmpty(t, tags)
	for _, tag := range tags {
		_, ok := documented[tag]
		require.True(t, ok, "%s (core/config) has no row in the README's configuration table", tag)
	}
	known := map[string]bool{}
	for _, tag := range tags {
		known[tag] = true
	}
	// Settings handed to connectors as they are, not read by Config: a
	// connector's app settings (NEKSIO_<CONNECTOR>_*).
	packageOwned := regexp.MustCompile(`^NEKSIO_(WHATSAPP|META|GOOGLE|TIKTOK|<CONNECTOR>)_`)
	for name := range documented {
		if !known[name] && !packageOwned.MatchString(name) {
			t.Errorf("README documents %s, which no setting reads", name)
		}
	}
}

// TestDefault is the configuration with nothing set.
func TestDefault(t *testing.T) {
	c := Default()
	require.NoError(t, c.Validate())
	require.Equal(t, "127.0.0.1:8080", c.Addr)
	require.Equal(t, "./data", c.DataDir)
	require.Equal(t, []string{"whatsapp", "meta", "google", "tiktok"}, c.Connectors)
	require.Equal(t, 50, c.GraphQLDefaultPageSize)
	require.Empty(t, c.Getenv("HOME"), "Default reads nothing from the process environment")
}

func TestInvalidLogSettingsNameTheVariable(t *testing.T) {
	c := Default()
	c.LogLevel = "verbose"
	require.ErrorContains(t, c.Validate(), "NEKSIO_LOG_LEVEL")
	c = Default()
	c.LogFormat = "xml"
	require.ErrorContains(t, c.Validate(), "NEKSIO_LOG_FORMAT")
	c.LogFormat = "JSON"
	c.LogLevel = "DEBUG"
	require.NoError(t, c.Validate())
}
