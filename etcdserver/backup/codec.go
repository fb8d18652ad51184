package backup

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression of the stored object. A backup names its codec in the
// manifest (Manifest.Compression); restore reads every codec this code ever
// wrote, whatever the default is today.
//
//   - zstd (the default): Zstandard (RFC 8878) at klauspost/compress's
//     SpeedFastest level (about zstd level 1), compressing blocks on
//     every CPU. Incompressible data (random values, already compressed
//     or encrypted payloads) goes through at close to memory speed, and
//     Kubernetes objects compress as well as with gzip -6.
//   - gzip: RFC 1952, written by klauspost/compress's gzip (the format of
//     compress/gzip, faster), read by any gzip reader. The default before
//     zstd; older backups are gzip.
//   - none: the raw snapshot, what `etcdutl snapshot restore` reads.
//
// Magic bytes that tell a compressed object from a raw snapshot when it
// comes without a manifest (checkRawSnapshot).
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// zstdMaxWindow bounds the window a zstd stream may ask the reader for
// (memory per decoder). The encoder here uses 4 MiB at SpeedFastest; other
// zstd tools use at most 8 MiB below level 20.
const zstdMaxWindow = 64 << 20

// Compressions lists the values of --compress, the default first.
var Compressions = []string{CompressionZstd, CompressionGzip, CompressionNone}

// DefaultCompression is the codec of a backup that does not name one.
const DefaultCompression = CompressionZstd

// validCompression tells whether c is one of Compressions.
func validCompression(c string) bool {
	switch c {
	case CompressionZstd, CompressionGzip, CompressionNone:
		return true
	}
	return false
}

// compressWriter returns a writer compressing onto w with codec c, or nil
// for CompressionNone. Close flushes the end of the stream; it does not
// close w.
func compressWriter(c string, w io.Writer) (io.WriteCloser, error) {
	switch c {
	case CompressionNone:
		return nil, nil
	case CompressionGzip:
		return kgzip.NewWriterLevel(w, kgzip.DefaultCompression)
	case CompressionZstd:
		return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithEncoderCRC(true))
	}
	return nil, fmt.Errorf("unknown compression %q", c)
}

// decompressReader returns a reader of the decompressed r for codec c (r
// itself for CompressionNone). Errors in the compressed data, on creation
// or on Read, wrap errCorruptStream.
func decompressReader(c string, r io.Reader) (io.ReadCloser, error) {
	switch c {
	case CompressionNone:
		return io.NopCloser(r), nil
	case CompressionGzip:
		gz, err := kgzip.NewReader(r)
		if err != nil {
			return nil, corruptStream(err)
		}
		return &codecReader{r: gz, close: gz.Close}, nil
	case CompressionZstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
			zstd.WithDecoderMaxWindow(zstdMaxWindow), zstd.WithDecoderLowmem(false))
		if err != nil {
			return nil, corruptStream(err)
		}
		return &codecReader{r: zr, close: func() error { zr.Close(); return nil }}, nil
	}
	return nil, fmt.Errorf("unknown compression %q", c)
}

// errCorruptStream is wrapped by decompression errors of a damaged object.
var errCorruptStream = errors.New("the compressed stream is damaged")

// zstdErrors are the zstd decoder's errors about the data itself.
var zstdErrors = []error{
	zstd.ErrMagicMismatch, zstd.ErrCRCMismatch, zstd.ErrReservedBlockType, zstd.ErrCompressedSizeTooBig,
	zstd.ErrBlockTooSmall, zstd.ErrUnexpectedBlockSize, zstd.ErrWindowSizeExceeded, zstd.ErrWindowSizeTooSmall,
	zstd.ErrFrameSizeExceeded, zstd.ErrFrameSizeMismatch, zstd.ErrUnknownDictionary, zstd.ErrDecoderSizeExceeded,
	zstd.ErrMagicMismatch,
}

// corruptStream marks err as damage in the data when it is a codec error
// (not an error of the store or of decryption underneath).
func corruptStream(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	codec := errors.Is(err, kgzip.ErrChecksum) || errors.Is(err, kgzip.ErrHeader) ||
		errors.Is(err, io.ErrUnexpectedEOF) || bytes.HasPrefix([]byte(err.Error()), []byte("flate:"))
	for _, e := range zstdErrors {
		codec = codec || errors.Is(err, e)
	}
	if codec && !errors.Is(err, errCorruptStream) {
		return fmt.Errorf("%w: %w", errCorruptStream, err)
	}
	return err
}

// codecReader marks the codec's errors (corruptStream).
type codecReader struct {
	r     io.Reader
	close func() error
}

func (c *codecReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	return n, corruptStream(err)
}

func (c *codecReader) Close() error { return c.close() }
