package backup

import (
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
// itself for CompressionNone). An error of the codec about the data, on
// creation or on Read, wraps errCorruptStream; an error of r (the store,
// decryption) is returned as r gave it.
func decompressReader(c string, r io.Reader) (io.ReadCloser, error) {
	src := &sourceReader{r: r}
	switch c {
	case CompressionNone:
		return io.NopCloser(r), nil
	case CompressionGzip:
		gz, err := kgzip.NewReader(src)
		if err != nil {
			return nil, src.mark(err)
		}
		return &codecReader{r: gz, src: src, close: gz.Close}, nil
	case CompressionZstd:
		zr, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
			zstd.WithDecoderMaxWindow(zstdMaxWindow), zstd.WithDecoderLowmem(false))
		if err != nil {
			return nil, src.mark(err)
		}
		return &codecReader{r: zr, src: src, close: func() error { zr.Close(); return nil }}, nil
	}
	return nil, fmt.Errorf("unknown compression %q", c)
}

// errCorruptStream is wrapped by decompression errors of a damaged object.
var errCorruptStream = errors.New("the compressed stream is damaged")

// sourceReader remembers the last error of the compressed input, so that
// the codec's own errors can be told from it.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// mark wraps errCorruptStream around err unless err is the end of the
// output or came from the input.
func (s *sourceReader) mark(err error) error {
	switch {
	case err == nil, err == io.EOF, errors.Is(err, errCorruptStream):
		return err
	case s.err != nil && (errors.Is(err, s.err) || err.Error() == s.err.Error()):
		return s.err
	}
	return fmt.Errorf("%w: %w", errCorruptStream, err)
}

// codecReader marks the codec's errors (sourceReader.mark).
type codecReader struct {
	r     io.Reader
	src   *sourceReader
	close func() error
}

func (c *codecReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	return n, c.src.mark(err)
}

func (c *codecReader) Close() error { return c.close() }
