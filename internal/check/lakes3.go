package check

import (
	"context"

	"github.com/inlet-dev/inlet/lake"
)

// lakeS3 connects to an s3:// lake's bucket and runs the If-None-Match
// probe the lake runs at open.
func (ck *checker) lakeS3(ctx context.Context, l *lake.Config) *Group {
	g := &Group{Component: "lake"}
	if _, err := l.Store(ctx); err != nil {
		g.fail("s3", err.Error(), "fix "+ck.at("lake.s3")+" or "+ck.at("lake.path")+", or the credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE)")
		return g
	}
	g.ok("s3", l.Path+": reachable, writable, conditional writes (If-None-Match) honoured")
	return g
}
