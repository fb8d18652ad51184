package backup

import (
	"reflect"
	"testing"
)

// FuzzParseManifest: ParseManifest never panics, and a manifest it accepts
// survives MarshalLine and a second parse unchanged (restore reads back what
// backup wrote). CheckVersion of an accepted manifest never panics either.
func FuzzParseManifest(f *testing.F) {
	good := Manifest{
		Format: ManifestFormat, SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Size: 1 << 20, StoredSize: 4096, EtcdRevision: 42, EtcdRevisionMax: 43,
		ClusterID: "cdf818194e3a8c32", MemberID: "8e9e05c52164694d", MemberName: "db-0",
		Endpoint: "https://db-0.db-peer.prod.svc.cluster.local:2379", EtcdVersion: "3.7.3", StorageVersion: "3.7.0",
		Compression: CompressionGzip, Encrypted: true, Encryption: EncryptionFormat,
		CreatedAt: "2026-01-02T03:04:05Z", Location: "s3://bkt/prod/db/b.db",
	}
	f.Add(good.MarshalLine())
	plain := good
	plain.Encrypted, plain.Encryption, plain.Compression, plain.StorageVersion, plain.MemberName = false, "", CompressionNone, "", ""
	f.Add(plain.MarshalLine())
	f.Add([]byte(`{"format":"quorum.dev/etcd-backup/v1","sha256":"00","size":-1,"compression":"zstd","createdAt":"yesterday"}`))
	f.Add([]byte(`{"FORMAT":"quorum.dev/etcd-backup/v1","Size":1e3}`))
	f.Add([]byte(`{"etcdVersion":"v99999999999999999999.1","storageVersion":"3"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[]`))
	f.Add([]byte("{\"location\":\"\xff\xfe\"}"))

	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			if !reflect.DeepEqual(m, Manifest{}) {
				t.Fatalf("error %v with a manifest %+v", err, m)
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("accepted manifest does not validate: %v", err)
		}
		line := m.MarshalLine()
		again, err := ParseManifest(line)
		if err != nil {
			t.Fatalf("re-marshalled manifest %s does not parse: %v", line, err)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip changed the manifest:\n%+v\n%+v", m, again)
		}
		_ = CheckVersion(m, BinaryEtcdVersion())
		_ = CheckVersion(m, m.EtcdVersion)
	})
}
