package capture_test

import (
	"github.com/inlet-dev/inlet/capture"
	"github.com/inlet-dev/inlet/connectors/httpapi"
	"github.com/inlet-dev/inlet/connectors/postgres"
)

// The sources capture reconnects.
var (
	_ capture.Reopener = (*postgres.Source)(nil)
	_ capture.Reopener = (*httpapi.Source)(nil)
)
