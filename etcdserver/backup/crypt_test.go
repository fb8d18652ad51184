package backup

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"testing"
)

func testKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func encrypt(t *testing.T, key, plain []byte, chunk int, writes int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewEncryptWriter(&buf, key, chunk)
	if err != nil {
		t.Fatal(err)
	}
	// Write in uneven pieces to exercise buffering.
	step := max(1, len(plain)/max(1, writes))
	for p := plain; len(p) > 0; {
		n := min(step, len(p))
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decrypt(key, enc []byte) ([]byte, error) {
	return io.ReadAll(NewDecryptReader(bytes.NewReader(enc), key))
}

func TestEncryptRoundTrip(t *testing.T) {
	key := testKey(t)
	const chunk = 16
	for _, size := range []int{0, 1, 15, 16, 17, 31, 32, 33, 1000, 4096} {
		plain := make([]byte, size)
		_, _ = rand.Read(plain)
		for _, writes := range []int{1, 3, 7} {
			enc := encrypt(t, key, plain, chunk, writes)
			// header + full chunks + final chunk, each with a 16-byte tag.
			want := encHeaderSize + (size/chunk)*(chunk+16) + (size%chunk + 16)
			if len(enc) != want {
				t.Errorf("size %d: ciphertext %d bytes, want %d", size, len(enc), want)
			}
			got, err := decrypt(key, enc)
			if err != nil {
				t.Fatalf("size %d writes %d: %v", size, writes, err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("size %d writes %d: round trip differs", size, writes)
			}
		}
	}
}

func TestEncryptSameInputDiffers(t *testing.T) {
	key := testKey(t)
	a := encrypt(t, key, []byte("same"), 16, 1)
	b := encrypt(t, key, []byte("same"), 16, 1)
	if bytes.Equal(a, b) {
		t.Fatal("two encryptions of the same input are identical (salt not random?)")
	}
}

func TestDecryptRejects(t *testing.T) {
	key := testKey(t)
	plain := make([]byte, 100)
	_, _ = rand.Read(plain)
	const chunk = 16
	enc := encrypt(t, key, plain, chunk, 1)
	block := chunk + 16
	mutate := func(f func([]byte) []byte) []byte { return f(bytes.Clone(enc)) }
	cases := map[string][]byte{
		"wrong key":                 nil,
		"flipped byte in chunk":     mutate(func(b []byte) []byte { b[encHeaderSize+5] ^= 1; return b }),
		"flipped byte in header":    mutate(func(b []byte) []byte { b[10] ^= 1; return b }),
		"flipped chunk size":        mutate(func(b []byte) []byte { b[len(encMagic)+4] ^= 1; return b }),
		"truncated mid chunk":       enc[:len(enc)-5],
		"truncated at chunk border": enc[:encHeaderSize+2*block],
		"final chunk dropped":       enc[:encHeaderSize+(100/chunk)*block],
		"truncated in header":       enc[:10],
		"empty":                     {},
		"appended data":             append(bytes.Clone(enc), 0),
		"chunks swapped": mutate(func(b []byte) []byte {
			c0 := bytes.Clone(b[encHeaderSize : encHeaderSize+block])
			copy(b[encHeaderSize:], b[encHeaderSize+block:encHeaderSize+2*block])
			copy(b[encHeaderSize+block:], c0)
			return b
		}),
		"bad magic": mutate(func(b []byte) []byte { b[0] = 'X'; return b }),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			k := key
			if data == nil {
				data, k = enc, testKey(t)
			}
			_, err := decrypt(k, data)
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("got %v, want ErrDecrypt", err)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	raw := testKey(t)
	for name, in := range map[string][]byte{
		"raw":            raw,
		"hex":            []byte(hex.EncodeToString(raw)),
		"hex newline":    []byte(hex.EncodeToString(raw) + "\n"),
		"base64":         []byte(base64.StdEncoding.EncodeToString(raw)),
		"base64 newline": []byte(base64.StdEncoding.EncodeToString(raw) + "\n"),
	} {
		k, err := ParseKey(in)
		if err != nil || !bytes.Equal(k, raw) {
			t.Errorf("%s: got %x, %v", name, k, err)
		}
	}
	for name, in := range map[string][]byte{
		"short":        raw[:16],
		"long":         append(bytes.Clone(raw), raw...),
		"short base64": []byte(base64.StdEncoding.EncodeToString(raw[:16])),
		"bad hex":      bytes.Repeat([]byte("zz"), 32),
	} {
		if _, err := ParseKey(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
