package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// S3Options say how to reach an S3 bucket.
type S3Options struct {
	Bucket string
	Prefix string // keys live under it ("" or "a/b")
	// Endpoint is an S3-compatible store's URL (empty: AWS).
	Endpoint string
	// Region defaults to the AWS chain's (AWS_REGION, profile), else
	// us-east-1.
	Region string
	// PathStyle addresses the bucket as endpoint/bucket/key instead of
	// bucket.endpoint/key (most S3-compatible stores need it).
	PathStyle bool
	// AccessKeyID and SecretAccessKey, when set, replace the AWS chain
	// (environment, profiles, instance roles).
	AccessKeyID, SecretAccessKey string
	// PartSize is the multipart upload part size (default 8 MiB, least
	// 5 MiB): memory per file being written.
	PartSize int64
	// SkipProbe skips the If-None-Match probe (tests of the probe itself).
	SkipProbe bool
}

// DefaultPartSize is the multipart part size: what a file being
// written holds in memory.
const DefaultPartSize = 8 << 20

// inMemoryRead is the size up to which Open reads an object into memory;
// a larger one is spooled to a temp file, so memory stays bounded.
const inMemoryRead = 16 << 20

// S3 is a store in an S3 bucket. PutIfAbsent is a PUT with
// If-None-Match: *, which S3 (since August 2024) and compatible stores
// that implement conditional writes refuse with 412 when the key exists.
//
// N.B. A store that ignores the header would let two writers both commit
// one Delta version; NewS3 detects one with a probe and refuses it. See
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
type S3 struct {
	c        *s3.Client
	bucket   string
	prefix   string // "" or ending in "/"
	partSize int64
	endpoint string
}

// NewS3 connects to the bucket and probes that it honours If-None-Match
// (a probe object under <prefix>/_inlet_probe/ is written twice; the
// second write must fail).
func NewS3(ctx context.Context, o S3Options) (*S3, error) {
	if o.Bucket == "" {
		return nil, fmt.Errorf("lake.path: no bucket; write e.g. path: s3://my-bucket/inlet")
	}
	loads := []func(*awsconfig.LoadOptions) error{}
	if o.Region != "" {
		loads = append(loads, awsconfig.WithRegion(o.Region))
	}
	if o.AccessKeyID != "" || o.SecretAccessKey != "" {
		loads = append(loads, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, fmt.Errorf("lake s3://%s: AWS configuration: %w", o.Bucket, err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	// A store that stops answering must not stall the lake: bound the
	// connect and the wait for each response's headers (a part upload's
	// body is streamed, so no bound on the whole request). The SDK
	// retries a timed-out request like any other transient error.
	cfg.HTTPClient = awshttp.NewBuildableClient().WithDialerOptions(func(d *net.Dialer) {
		d.Timeout = 10 * time.Second
	}).WithTransportOptions(func(tr *http.Transport) {
		tr.ResponseHeaderTimeout = 60 * time.Second
		tr.TLSHandshakeTimeout = 10 * time.Second
	})
	c := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.PathStyle
		// Checksums only where the API requires them: several
		// S3-compatible stores reject the newer default trailers.
		so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	s := &S3{c: c, bucket: o.Bucket, partSize: o.PartSize, endpoint: o.Endpoint}
	if p := strings.Trim(o.Prefix, "/"); p != "" {
		s.prefix = p + "/"
	}
	if s.partSize < 5<<20 {
		s.partSize = DefaultPartSize
	}
	if !o.SkipProbe {
		if err := s.Probe(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Client is the S3 client (tests create buckets with it).
func (s *S3) Client() *s3.Client { return s.c }

func (s *S3) key(k string) string { return s.prefix + k }

// Location is s3://bucket/prefix/key.
func (s *S3) Location(key string) string { return "s3://" + s.bucket + "/" + s.key(key) }

func (s *S3) where() string {
	w := "s3://" + s.bucket + "/" + s.prefix
	if s.endpoint != "" {
		w += " at " + s.endpoint
	}
	return w
}

// Probe checks that the store refuses a second PUT with If-None-Match: *
// of one key. A store that accepts it is refused: Delta commits on it
// would not be atomic.
func (s *S3) Probe(ctx context.Context) error {
	k := "_inlet_probe/" + randHex()
	defer s.Delete(context.WithoutCancel(ctx), k)
	if err := s.PutIfAbsent(ctx, k, []byte("1")); err != nil {
		return fmt.Errorf("lake %s: probe write: %w (check lake.s3.endpoint, lake.s3.region, lake.s3.path_style, the bucket and the credentials)", s.where(), err)
	}
	err := s.PutIfAbsent(ctx, k, []byte("2"))
	switch {
	case errors.Is(err, ErrExist):
		return nil
	case err == nil:
		return fmt.Errorf("lake %s: the store ignores If-None-Match: * (a second conditional PUT of one object succeeded), so two writers could both commit one Delta version; "+
			"Inlet needs conditional writes: use AWS S3 or a store that implements them (MinIO, versitygw), or keep the lake on file://", s.where())
	case isCode(err, "NotImplemented", http.StatusNotImplemented):
		return fmt.Errorf("lake %s: the store does not implement If-None-Match: * (%v), which Delta commits need; use AWS S3 or a store that implements conditional writes (MinIO, versitygw), or keep the lake on file://", s.where(), err)
	default:
		return fmt.Errorf("lake %s: probe write: %w", s.where(), err)
	}
}

// isCode reports whether err is an S3 API error with the code or HTTP
// status.
func isCode(err error, code string, status int) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == code {
		return true
	}
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == status
}

func (s *S3) notExist(err error, key string) error {
	var nk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nk) || errors.As(err, &nf) || isCode(err, "NoSuchKey", http.StatusNotFound) {
		return fmt.Errorf("%s: %w", s.Location(key), fs.ErrNotExist)
	}
	return fmt.Errorf("%s: %w", s.Location(key), err)
}

// ReadAll gets key.
func (s *S3) ReadAll(ctx context.Context, key string) ([]byte, error) {
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(key))})
	if err != nil {
		return nil, s.notExist(err, key)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Location(key), err)
	}
	return b, nil
}

type memFile struct {
	*bytes.Reader
}

func (memFile) Close() error { return nil }

type spoolFile struct {
	*os.File
	size int64
}

func (f spoolFile) Size() int64 { return f.size }
func (f spoolFile) Close() error {
	f.File.Close()
	return os.Remove(f.File.Name())
}

// Open gets key: into memory up to 16 MiB, else into a temp file that
// Close removes.
func (s *S3) Open(ctx context.Context, key string) (File, error) {
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(key))})
	if err != nil {
		return nil, s.notExist(err, key)
	}
	defer out.Body.Close()
	size := aws.ToInt64(out.ContentLength)
	if size <= inMemoryRead {
		b, err := io.ReadAll(out.Body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Location(key), err)
		}
		return memFile{bytes.NewReader(b)}, nil
	}
	f, err := os.CreateTemp("", "inlet-lake-*.parquet")
	if err != nil {
		return nil, err
	}
	n, err := io.Copy(f, out.Body)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("%s: %w", s.Location(key), err)
	}
	return spoolFile{f, n}, nil
}

// Stat heads key.
func (s *S3) Stat(ctx context.Context, key string) (Entry, error) {
	out, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(key))})
	if err != nil {
		return Entry{}, s.notExist(err, key)
	}
	return Entry{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// List lists the keys under prefix.
func (s *S3) List(ctx context.Context, prefix string) ([]Entry, error) {
	var out []Entry
	full := s.key(prefix)
	p := s3.NewListObjectsV2Paginator(s.c, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(full)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", s.Location(prefix), err)
		}
		for _, o := range page.Contents {
			k := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			if strings.HasSuffix(k, "/") {
				continue // a directory marker
			}
			out = append(out, Entry{Key: k, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)})
		}
	}
	return out, nil
}

// PutIfAbsent PUTs key with If-None-Match: *. 412 means the key exists
// (ErrExist); 409 means a concurrent conditional write to the key was in
// progress, and the PUT is tried again.
func (s *S3) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	for attempt := 0; ; attempt++ {
		_, err := s.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(key)),
			Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))), IfNoneMatch: aws.String("*")})
		switch {
		case err == nil:
			return nil
		case isCode(err, "PreconditionFailed", http.StatusPreconditionFailed):
			return fmt.Errorf("%s: %w", s.Location(key), ErrExist)
		case isCode(err, "ConditionalRequestConflict", http.StatusConflict) && attempt < 10:
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
			}
		default:
			return fmt.Errorf("put %s: %w", s.Location(key), err)
		}
	}
}

// Delete deletes key.
func (s *S3) Delete(ctx context.Context, key string) error {
	_, err := s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(key))})
	if err != nil {
		if e := s.notExist(err, key); IsNotExist(e) {
			return nil
		}
		return fmt.Errorf("delete %s: %w", s.Location(key), err)
	}
	return nil
}

// Create streams key: one PUT when it fits in a part, else a multipart
// upload of PartSize parts, one part in memory at a time. Either way the
// object appears whole at Commit (S3 writes are atomic), so atomic needs
// nothing more.
func (s *S3) Create(ctx context.Context, key string, atomic bool) (Writer, error) {
	return &s3Writer{s: s, ctx: ctx, key: s.key(key), buf: make([]byte, 0, 64<<10)}, nil
}

type s3Writer struct {
	s        *S3
	ctx      context.Context
	key      string
	buf      []byte
	n        int64
	uploadID *string
	parts    []types.CompletedPart
	err      error
	done     bool
}

func (w *s3Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		room := int(w.s.partSize) - len(w.buf)
		take := min(room, len(p))
		w.buf = append(w.buf, p[:take]...)
		p = p[take:]
		written += take
		w.n += int64(take)
		if len(w.buf) >= int(w.s.partSize) {
			if err := w.uploadPart(); err != nil {
				w.err = err
				return written, err
			}
		}
	}
	return written, nil
}

func (w *s3Writer) uploadPart() error {
	if w.uploadID == nil {
		out, err := w.s.c.CreateMultipartUpload(w.ctx, &s3.CreateMultipartUploadInput{Bucket: &w.s.bucket, Key: &w.key})
		if err != nil {
			return fmt.Errorf("multipart upload s3://%s/%s: %w", w.s.bucket, w.key, err)
		}
		w.uploadID = out.UploadId
	}
	num := int32(len(w.parts) + 1)
	out, err := w.s.c.UploadPart(w.ctx, &s3.UploadPartInput{Bucket: &w.s.bucket, Key: &w.key, UploadId: w.uploadID,
		PartNumber: aws.Int32(num), Body: bytes.NewReader(w.buf), ContentLength: aws.Int64(int64(len(w.buf)))})
	if err != nil {
		return fmt.Errorf("upload part %d of s3://%s/%s: %w", num, w.s.bucket, w.key, err)
	}
	w.parts = append(w.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
	w.buf = w.buf[:0]
	return nil
}

func (w *s3Writer) Commit() (int64, error) {
	if w.err != nil {
		w.Abort()
		return 0, w.err
	}
	w.done = true
	if w.uploadID == nil {
		_, err := w.s.c.PutObject(w.ctx, &s3.PutObjectInput{Bucket: &w.s.bucket, Key: &w.key,
			Body: bytes.NewReader(w.buf), ContentLength: aws.Int64(int64(len(w.buf)))})
		if err != nil {
			return 0, fmt.Errorf("put s3://%s/%s: %w", w.s.bucket, w.key, err)
		}
		return w.n, nil
	}
	if len(w.buf) > 0 {
		if err := w.uploadPart(); err != nil {
			w.abortUpload()
			return 0, err
		}
	}
	_, err := w.s.c.CompleteMultipartUpload(w.ctx, &s3.CompleteMultipartUploadInput{Bucket: &w.s.bucket, Key: &w.key, UploadId: w.uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: w.parts}})
	if err != nil {
		w.abortUpload()
		return 0, fmt.Errorf("complete multipart upload s3://%s/%s: %w", w.s.bucket, w.key, err)
	}
	return w.n, nil
}

func (w *s3Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.abortUpload()
}

func (w *s3Writer) abortUpload() {
	if w.uploadID != nil {
		w.s.c.AbortMultipartUpload(context.WithoutCancel(w.ctx), &s3.AbortMultipartUploadInput{Bucket: &w.s.bucket, Key: &w.key, UploadId: w.uploadID})
	}
	w.buf = nil
}

// ParseS3URL splits s3://bucket/prefix.
func ParseS3URL(u string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an s3:// URL", u)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%q has no bucket; write e.g. s3://my-bucket/inlet", u)
	}
	return bucket, path.Clean("/" + prefix)[1:], nil
}
