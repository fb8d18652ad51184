package backup

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// Encrypted stream format ("qenc1"), AES-256-GCM in fixed-size chunks so that
// neither side ever holds more than one chunk in memory:
//
//	header  = magic "QENC" | version 0x01 | chunk size (uint32, big endian) | salt (32 random bytes)
//	chunk i = AES-256-GCM(subkey, nonce_i, plaintext_i, aad = header)
//
// subkey is HKDF-SHA256(secret = the 32-byte key, salt, info = "quorum-etcd backup qenc1"),
// so every object has its own key and counter nonces never repeat under one
// key. nonce_i is the chunk index as an 11-byte big-endian counter followed by
// one flag byte: 0x01 on the last chunk, 0x00 otherwise. Every chunk but the
// last carries exactly chunk-size plaintext bytes; the last carries fewer
// (possibly zero), so a stream whose length is a multiple of the chunk size
// ends with an empty final chunk. A reader therefore detects reordering,
// tampering (GCM tag), truncation at any offset (no final chunk, or a short
// chunk that fails as final) and data appended after the final chunk.
const (
	encMagic          = "QENC"
	encVersion        = 1
	encSaltSize       = 32
	encHeaderSize     = len(encMagic) + 1 + 4 + encSaltSize
	encInfo           = "quorum-etcd backup qenc1"
	DefaultChunkSize  = 64 << 10
	maxChunkSize      = 16 << 20
	encryptionKeySize = 32
)

// EncryptionFormat names the format above in the manifest.
const EncryptionFormat = "aes-256-gcm-chunked-v1"

// ErrDecrypt is wrapped by every authentication failure while decrypting:
// wrong key, tampered or truncated data.
var ErrDecrypt = errors.New("decryption failed (wrong key, or the object is corrupt or truncated)")

// LoadKey reads a 32-byte AES-256 key from path. The file holds the 32 raw
// bytes, or 64 hex digits, or the standard base64 encoding of 32 bytes
// (surrounding whitespace ignored for the two text forms).
func LoadKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading encryption key: %w", err)
	}
	return ParseKey(b)
}

// ParseKey decodes a key in one of the forms LoadKey accepts.
func ParseKey(b []byte) ([]byte, error) {
	if len(b) == encryptionKeySize {
		return b, nil
	}
	t := bytes.TrimSpace(b)
	if len(t) == 2*encryptionKeySize {
		if k, err := hex.DecodeString(string(t)); err == nil {
			return k, nil
		}
	}
	if k, err := base64.StdEncoding.DecodeString(string(t)); err == nil && len(k) == encryptionKeySize {
		return k, nil
	}
	return nil, fmt.Errorf("encryption key must be 32 raw bytes, 64 hex digits or base64 of 32 bytes (got %d bytes)", len(b))
}

func chunkAEAD(key, salt []byte) (cipher.AEAD, error) {
	if len(key) != encryptionKeySize {
		return nil, fmt.Errorf("encryption key must be %d bytes, got %d", encryptionKeySize, len(key))
	}
	sub, err := hkdf.Key(sha256.New, key, salt, encInfo, encryptionKeySize)
	if err != nil {
		return nil, fmt.Errorf("deriving object key: %w", err)
	}
	block, err := aes.NewCipher(sub)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func chunkNonce(dst []byte, index uint64, final bool) []byte {
	clear(dst)
	binary.BigEndian.PutUint64(dst[3:11], index)
	if final {
		dst[11] = 1
	}
	return dst
}

// encWriter encrypts everything written to it onto w.
type encWriter struct {
	w      io.Writer
	aead   cipher.AEAD
	header []byte
	buf    []byte // plaintext of the current chunk
	out    []byte // ciphertext scratch
	nonce  []byte
	index  uint64
	closed bool
	err    error
}

// NewEncryptWriter returns a writer that encrypts onto w in the format
// above. Close writes the final chunk; it does not close w.
func NewEncryptWriter(w io.Writer, key []byte, chunkSize int) (io.WriteCloser, error) {
	if chunkSize <= 0 || chunkSize > maxChunkSize {
		return nil, fmt.Errorf("chunk size %d out of range", chunkSize)
	}
	salt := make([]byte, encSaltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	aead, err := chunkAEAD(key, salt)
	if err != nil {
		return nil, err
	}
	header := make([]byte, 0, encHeaderSize)
	header = append(header, encMagic...)
	header = append(header, encVersion)
	header = binary.BigEndian.AppendUint32(header, uint32(chunkSize))
	header = append(header, salt...)
	if _, err := w.Write(header); err != nil {
		return nil, err
	}
	return &encWriter{
		w: w, aead: aead, header: header,
		buf:   make([]byte, 0, chunkSize),
		out:   make([]byte, 0, chunkSize+aead.Overhead()),
		nonce: make([]byte, aead.NonceSize()),
	}, nil
}

func (e *encWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.closed {
		return 0, errors.New("write after close")
	}
	n := 0
	for len(p) > 0 {
		// A full buffer is flushed only when more data arrives, so that the
		// last chunk is always written by Close with the final flag.
		if len(e.buf) == cap(e.buf) {
			if e.err = e.seal(false); e.err != nil {
				return n, e.err
			}
		}
		c := copy(e.buf[len(e.buf):cap(e.buf)], p)
		e.buf = e.buf[:len(e.buf)+c]
		p = p[c:]
		n += c
	}
	return n, nil
}

func (e *encWriter) seal(final bool) error {
	e.out = e.aead.Seal(e.out[:0], chunkNonce(e.nonce, e.index, final), e.buf, e.header)
	e.index++
	e.buf = e.buf[:0]
	_, err := e.w.Write(e.out)
	return err
}

// Close writes the final chunk. A full pending chunk is written as a regular
// chunk followed by an empty final one.
func (e *encWriter) Close() error {
	if e.err != nil || e.closed {
		return e.err
	}
	e.closed = true
	if len(e.buf) == cap(e.buf) {
		if e.err = e.seal(false); e.err != nil {
			return e.err
		}
	}
	e.err = e.seal(true)
	return e.err
}

// decReader decrypts a stream written by encWriter.
type decReader struct {
	r      io.Reader
	key    []byte
	aead   cipher.AEAD
	header []byte
	in     []byte
	plain  []byte // undelivered plaintext of the current chunk
	nonce  []byte
	index  uint64
	done   bool // final chunk seen
	err    error
}

// NewDecryptReader returns a reader of the plaintext of the encrypted
// stream r. It reports ErrDecrypt (wrapped) on any authentication failure,
// including truncation.
func NewDecryptReader(r io.Reader, key []byte) io.Reader {
	return &decReader{r: r, key: key}
}

func (d *decReader) init() error {
	header := make([]byte, encHeaderSize)
	if _, err := io.ReadFull(d.r, header); err != nil {
		return fmt.Errorf("reading encryption header: %w", truncated(err))
	}
	if string(header[:len(encMagic)]) != encMagic {
		return fmt.Errorf("%w: not an encrypted backup (bad magic)", ErrDecrypt)
	}
	if header[len(encMagic)] != encVersion {
		return fmt.Errorf("unsupported encryption format version %d", header[len(encMagic)])
	}
	chunk := binary.BigEndian.Uint32(header[len(encMagic)+1:])
	if chunk == 0 || chunk > maxChunkSize {
		return fmt.Errorf("%w: chunk size %d out of range", ErrDecrypt, chunk)
	}
	aead, err := chunkAEAD(d.key, header[len(encMagic)+5:])
	if err != nil {
		return err
	}
	d.aead, d.header = aead, header
	d.in = make([]byte, int(chunk)+aead.Overhead())
	d.nonce = make([]byte, aead.NonceSize())
	return nil
}

func (d *decReader) Read(p []byte) (int, error) {
	for len(d.plain) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		d.err = d.next()
	}
	n := copy(p, d.plain)
	d.plain = d.plain[n:]
	return n, nil
}

// next decrypts the next chunk into d.plain, or returns io.EOF after the
// final chunk.
func (d *decReader) next() error {
	if d.aead == nil {
		if err := d.init(); err != nil {
			return err
		}
	}
	if d.done {
		// Nothing may follow the final chunk.
		var one [1]byte
		if n, _ := io.ReadFull(d.r, one[:]); n > 0 {
			return fmt.Errorf("%w: data after the final chunk", ErrDecrypt)
		}
		return io.EOF
	}
	n, err := io.ReadFull(d.r, d.in)
	switch {
	case err == nil:
		// A full-size chunk is never the last one.
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		d.done = true
	default:
		return fmt.Errorf("reading encrypted chunk %d: %w", d.index, err)
	}
	if n < d.aead.Overhead() {
		return fmt.Errorf("%w: stream ends inside chunk %d", ErrDecrypt, d.index)
	}
	plain, oerr := d.aead.Open(d.in[:0], chunkNonce(d.nonce, d.index, d.done), d.in[:n], d.header)
	if oerr != nil {
		return fmt.Errorf("%w: chunk %d does not authenticate", ErrDecrypt, d.index)
	}
	d.index++
	d.plain = plain
	if d.done && len(plain) == 0 {
		return d.next()
	}
	return nil
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: stream too short", ErrDecrypt)
	}
	return err
}
