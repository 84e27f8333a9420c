// Package lakeopen opens the lake a config names: a local directory
// (file:// or a plain path) or an S3 bucket (s3://bucket/prefix with the
// lake.s3 settings). Opening an S3 lake connects and probes that the
// store honours If-None-Match (see lake/store), so a store that would
// let two commits of one version both land is refused before any write.
package lakeopen

import (
	"context"
	"fmt"
	"strings"

	"github.com/inlet-dev/inlet/internal/config"
	"github.com/inlet-dev/inlet/lake"
	"github.com/inlet-dev/inlet/lake/store"
)

// Store opens the lake's store. Errors name the setting to fix; they
// never hold a secret (the SDK's messages carry none).
func Store(ctx context.Context, l *config.Lake) (store.Store, error) {
	if !config.LakeIsS3(l.Path) {
		dir, err := config.LakeDir(l.Path)
		if err != nil {
			return nil, fmt.Errorf("lake.path: %w", err)
		}
		return store.NewLocal(dir)
	}
	o, err := S3Options(l)
	if err != nil {
		return nil, err
	}
	return store.NewS3(ctx, o)
}

// S3Options are the S3 settings of an s3:// lake.path.
func S3Options(l *config.Lake) (store.S3Options, error) {
	bucket, prefix, err := store.ParseS3URL(strings.TrimSpace(l.Path))
	if err != nil {
		return store.S3Options{}, fmt.Errorf("lake.path: %w", err)
	}
	o := store.S3Options{Bucket: bucket, Prefix: prefix}
	if s := l.S3; s != nil {
		o.Endpoint, o.Region, o.PathStyle = s.Endpoint, s.Region, s.PathStyle
		o.AccessKeyID, o.SecretAccessKey = s.AccessKeyID, s.SecretAccessKey
	}
	return o, nil
}

// Open opens the configured lake with the given maintenance options.
func Open(ctx context.Context, c *config.Config, o lake.Options) (*lake.Lake, error) {
	st, err := Store(ctx, c.Lake)
	if err != nil {
		return nil, err
	}
	return lake.OpenStore(st, c.Pipeline, o), nil
}
