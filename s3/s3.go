package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/berthio/berth/driver"
	"github.com/berthio/berth/internal/multipart"
	"github.com/berthio/berth/internal/objkey"
)

// Name is the registered driver name and URL scheme.
const Name = "s3"

// MaxObjectSize is S3's largest object.
const MaxObjectSize = 5 << 40

// backend translates driver calls to S3 requests. New (client.go) builds it.
type backend struct {
	cfg     Config
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
	prefix  string // RootDirectory without leading or trailing '/'; "" for the bucket root

	// chunks recycles read-ahead buffers of ReadChunkSize between readers:
	// a fresh 16 MiB buffer costs its zeroing and page faults, about 5 %
	// of a 1 GiB read. The pool holds only buffers of finished readers and
	// lets the garbage collector take them.
	chunks sync.Pool

	// parts recycles writers' part buffers between sessions in the same
	// way: a registry opens a writer per PATCH request.
	parts sync.Pool

	// uploads runs the upload protocol, Delete and Move (upload.go).
	uploads *multipart.Bucket

	// mode is the result of the CommitMode probe (stage.go), made at the
	// first CreateMultipartUpload of the instance.
	mode struct {
		sync.Mutex
		known, staged bool
	}
}

var _ driver.Backend = (*backend)(nil)

func (b *backend) Name() string { return Name }

func (b *backend) Capabilities() driver.Capabilities {
	return driver.Capabilities{
		Listing:               driver.Strong,
		Fencing:               driver.FencingStrict,
		Redirect:              !b.cfg.DisableRedirect,
		MaxObjectSize:         MaxObjectSize,
		SharedAcrossProcesses: true,
	}
}

// key, dirKey and path map driver paths to keys and back, as
// distribution's s3 driver lays keys out (objkey.Layout).
func (b *backend) key(p string) string    { return objkey.Layout(b.prefix).Key(p) }
func (b *backend) dirKey(p string) string { return objkey.Layout(b.prefix).Dir(p) }
func (b *backend) path(key string) string { return objkey.Layout(b.prefix).Path(key) }

// putInput fills the settings every object write shares.
func (b *backend) putInput(key string, body []byte) *s3.PutObjectInput {
	in := &s3.PutObjectInput{
		Bucket:        &b.bucket,
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
	}
	in.ServerSideEncryption, in.SSEKMSKeyId = b.sse()
	in.StorageClass, in.ACL = b.storageClass(), b.acl()
	return in
}

func (b *backend) storageClass() types.StorageClass { return types.StorageClass(b.cfg.StorageClass) }
func (b *backend) acl() types.ObjectCannedACL       { return types.ObjectCannedACL(b.cfg.ObjectACL) }

func (b *backend) sse() (types.ServerSideEncryption, *string) {
	switch b.cfg.SSE {
	case "":
		return "", nil
	case string(types.ServerSideEncryptionAwsKms):
		return types.ServerSideEncryptionAwsKms, aws.String(b.cfg.SSEKMSKeyID)
	}
	return types.ServerSideEncryption(b.cfg.SSE), nil
}

func (b *backend) GetContent(ctx context.Context, p string) ([]byte, error) {
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: aws.String(b.key(p))})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

func (b *backend) PutContent(ctx context.Context, p string, content []byte) error {
	_, err := b.client.PutObject(ctx, b.putInput(b.key(p), content))
	return err
}

// NewRangeReader asks for the range at once. Without a range (offset 0, to
// the end) no Range header is sent: a plain GET is the fastest full read.
// An offset at or past the end draws 416 from S3; a HEAD then tells an
// empty read at the end from an invalid offset.
func (b *backend) NewRangeReader(ctx context.Context, p string, offset, length int64) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: &b.bucket, Key: aws.String(b.key(p))}
	ahead := b.cfg.ReadConcurrency > 1 && (length < 0 || length > 2*b.cfg.ReadChunkSize)
	switch {
	case length == 0:
		return b.emptyAt(ctx, p, offset)
	case ahead:
		// Only the first chunk: read whole, its connection is reused.
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+b.cfg.ReadChunkSize-1))
	case length > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	case offset > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := b.client.GetObject(ctx, in)
	if err != nil {
		if errors.Is(classify(err), driver.ErrInvalidOffset) {
			return b.emptyAt(ctx, p, offset)
		}
		return nil, err
	}
	if !ahead {
		return out.Body, nil
	}
	end := objectSize(out) // the read runs to the end of the object, or of the range
	if length >= 0 {
		end = min(end, offset+length)
	}
	return b.newReadAhead(ctx, b.key(p), out, offset, end), nil
}

// objectSize reads the whole object's size from a ranged GET's
// Content-Range ("bytes 0-99/1234").
func objectSize(out *s3.GetObjectOutput) int64 {
	cr := aws.ToString(out.ContentRange)
	if i := strings.LastIndexByte(cr, '/'); i >= 0 {
		var n int64
		if _, err := fmt.Sscan(cr[i+1:], &n); err == nil {
			return n
		}
	}
	return aws.ToInt64(out.ContentLength) // not ranged: the whole object
}

// emptyAt returns an empty reader if offset is the size of p.
func (b *backend) emptyAt(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: aws.String(b.key(p))})
	if err != nil {
		return nil, err
	}
	if size := aws.ToInt64(out.ContentLength); offset > size {
		return nil, driver.Errorf(driver.ErrInvalidOffset, "offset %d is past the end (%d bytes)", offset, size)
	}
	return io.NopCloser(strings.NewReader("")), nil
}

// Stat is a HEAD of the object, or else a one-key listing that tells a
// directory (any key below it) from nothing.
func (b *backend) Stat(ctx context.Context, p string) (driver.FileInfo, error) {
	if p != "/" {
		out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: aws.String(b.key(p))})
		if err == nil {
			return driver.FileInfoInternal{FileInfoFields: driver.FileInfoFields{
				Path: p, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}}, nil
		}
		if !isNotFound(err) {
			return nil, err
		}
		out2, err := b.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
			Bucket: &b.bucket, Prefix: aws.String(b.dirKey(p)), MaxKeys: aws.Int32(1)})
		if err != nil {
			return nil, err
		}
		if len(out2.Contents) == 0 {
			return nil, driver.ErrNotFound
		}
	}
	return driver.FileInfoInternal{FileInfoFields: driver.FileInfoFields{Path: p, IsDir: true}}, nil
}

// List is a delimited listing, page by page.
func (b *backend) List(ctx context.Context, p string) ([]string, error) {
	prefix := b.dirKey(p)
	var out []string
	pages := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
		Bucket: &b.bucket, Prefix: aws.String(prefix), Delimiter: aws.String("/")})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			if k := aws.ToString(o.Key); k != prefix {
				out = append(out, b.path(k))
			}
		}
		for _, cp := range page.CommonPrefixes {
			out = append(out, b.path(strings.TrimSuffix(aws.ToString(cp.Prefix), "/")))
		}
	}
	if len(out) == 0 && p != "/" {
		return nil, driver.ErrNotFound
	}
	return out, nil
}
