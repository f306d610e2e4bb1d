package privacy

import (
	"errors"
	"io"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

type blobListOptions = blob.ListOptions

func isNotFound(err error) bool { return gcerrors.Code(err) == gcerrors.NotFound }

func isEOF(err error) bool { return errors.Is(err, io.EOF) }
