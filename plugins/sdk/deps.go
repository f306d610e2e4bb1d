//go:build deps

package sdk

import (
	_ "github.com/hashicorp/go-hclog"
	_ "github.com/hashicorp/go-plugin"
	_ "github.com/stretchr/testify/require"
	_ "google.golang.org/grpc"
	_ "google.golang.org/protobuf/proto"
)
