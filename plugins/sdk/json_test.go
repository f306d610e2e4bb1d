package sdk_test

import (
	"encoding/json"
	"testing"

	"github.com/neksio/neksio/plugins/sdk"
)

func TestFlexString(t *testing.T) {
	var v struct {
		A, B, C, D sdk.FlexString
	}
	err := json.Unmarshal([]byte(`{"A":"x1","B":7391847562938475629384,"C":null,"D":-1.5}`), &v)
	if err != nil {
		t.Fatal(err)
	}
	if v.A != "x1" || v.B != "7391847562938475629384" || v.C != "" || v.D != "-1.5" {
		t.Fatalf("got %+v", v)
	}
	for _, bad := range []string{`{"A":{}}`, `{"A":[1]}`, `{"A":true}`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
