// Package backup implements `quorum-etcd backup` and `quorum-etcd restore`:
// the pod side of Quorum's backups and disaster recovery. The operator runs
// backup in a Job and restore as an init step of each member of a new
// cluster, both with the bundled etcd server image.
//
// # quorum-etcd backup
//
// Every flag falls back to the environment variable in brackets.
//
//	--endpoints           [QUORUM_ENDPOINTS]          comma-separated client URLs (required)
//	--tls-dir             [QUORUM_CLIENT_TLS_DIR]     tls.crt, tls.key, ca.crt; empty = plain http
//	--user                [QUORUM_ETCD_USER]          optional etcd user
//	--password-file       [QUORUM_ETCD_PASSWORD_FILE] its password (trailing newline ignored)
//	--s3-endpoint         [QUORUM_S3_ENDPOINT]        host:port, no scheme
//	--s3-insecure         [QUORUM_S3_INSECURE]        plain http instead of https
//	--s3-ca-file          [QUORUM_S3_CA_FILE]         extra PEM CA bundle for https
//	--s3-region           [QUORUM_S3_REGION]          default: asked from the server
//	--bucket              [QUORUM_S3_BUCKET]
//	--dir                 [QUORUM_BACKUP_DIR]         instead of S3: <dir>/<key> (e.g. a PVC)
//	--key                 [QUORUM_BACKUP_KEY]         object key (required)
//	--compress            [QUORUM_COMPRESS]           zstd (default) | gzip | none (codec.go)
//	--encryption-key-file [QUORUM_ENCRYPTION_KEY_FILE] 32-byte key: raw, 64 hex digits or base64
//	--timeout             [QUORUM_TIMEOUT]            whole run, default 1h, 0 = none
//
// S3 credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and,
// optionally, AWS_SESSION_TOKEN. The snapshot RPC needs the root role when
// etcd authentication is on: a client certificate whose CN is root (what
// Quorum's pods use) or --user root with --password-file.
//
// Steps: check the destination (an unknown bucket or rejected credentials
// fail before etcd is touched); ask every endpoint for its Status and pick
// a member (healthy, knows a leader, same cluster ID everywhere, at most
// MaxAppliedLag entries behind the best; a voter over a learner, a follower
// over the leader, then the highest applied index); stream its snapshot
// (Maintenance.SnapshotWithVersion) through SHA-256, a check of etcd's own
// SHA-256 trailer, compression and encryption into a multipart upload of
// unknown size (S3PartSize parts, S3UploadThreads in flight; aborted on
// any error, so no partial object) or a
// temporary file renamed into place; then write <key>.manifest.json. A
// backup is complete only once its manifest exists. Give every backup its
// own key (e.g. with a timestamp): a second backup under the same key
// replaces the object before its manifest, and a restore in between fails
// on the checksum rather than restoring the wrong data. Memory:
// S3UploadThreads parts of S3PartSize (64 MiB), the zstd encoder's blocks
// in flight (a few MiB per CPU) and one encryption chunk; no temporary copy
// of the snapshot.
//
// # Revision
//
// etcd does not report the revision of a snapshot: the header of the
// Snapshot stream is not filled by etcd v3.7.3. etcd guarantees that the
// snapshot is one bbolt read transaction, opened after the backend
// committed every applied write, before the first message is sent. So
// backup reads the member's revision with Status right before opening the
// stream (EtcdRevision: every write up to it is in the snapshot) and right
// after the first message arrived (EtcdRevisionMax: no later write is in
// it). Without concurrent writes both are equal and exact. restore reports
// the revision found in the snapshot itself (SnapshotRevision: the highest
// revision in etcd's key bucket, which is what etcd's bump adds to).
//
// # Manifest
//
// One line of JSON (see Manifest), below 4 KiB:
//
//	{"format":"quorum.dev/etcd-backup/v1","sha256":"<hex of the raw snapshot>",
//	 "size":<raw bytes>,"storedSize":<object bytes>,"etcdRevision":N,"etcdRevisionMax":N,
//	 "clusterID":"<hex>","memberID":"<hex>","memberName":"…","endpoint":"https://…:2379",
//	 "etcdVersion":"3.7.3","storageVersion":"3.7.0","compression":"zstd","encrypted":true,
//	 "encryption":"aes-256-gcm-chunked-v1","createdAt":"<RFC 3339 UTC>","location":"s3://bucket/key"}
//
// The raw snapshot is exactly what etcd streams (the bbolt file plus etcd's
// 32-byte SHA-256 trailer), i.e. what `etcdctl snapshot save` writes, so a
// decrypted, decompressed backup restores with plain etcdutl too.
//
// # Encryption
//
// AES-256-GCM over 64 KiB chunks with a per-object key derived by HKDF; see
// crypt.go for the byte layout. Truncation, reordering, appended data and
// tampering are all detected. Compression happens before encryption.
//
// # quorum-etcd restore
//
// The destination flags above (--s3-*, --bucket or --dir, --key,
// --encryption-key-file, --timeout) select the backup; then:
//
//	--manifest-file               [QUORUM_MANIFEST_FILE]   local manifest instead of <key>.manifest.json
//	--data-dir                    [QUORUM_DATA_DIR]        default /var/lib/etcd/data
//	--name                        [POD_NAME]
//	--initial-cluster             [QUORUM_INITIAL_CLUSTER] name=peerURL,... of every new member
//	--initial-cluster-token       [QUORUM_CLUSTER_TOKEN]
//	--initial-advertise-peer-urls [QUORUM_INITIAL_ADVERTISE_PEER_URLS] default: --name's entries in --initial-cluster
//	--bump-revision               [QUORUM_BUMP_REVISION]   default 1_000_000_000 (DefaultBumpRevision); 0 = none
//	--mark-compacted              [QUORUM_MARK_COMPACTED]  default true (false when the bump is 0)
//	--force                       [QUORUM_RESTORE_FORCE]   replace a data dir holding a member or files
//	--skip-hash-check             [QUORUM_SKIP_HASH_CHECK] accept a raw snapshot without etcd's appended hash
//	--verify-only                                          do the whole restore into scratch space under $TMPDIR, write nothing else
//	--undo                                                 put back the data dir the in-place restore --restore-id kept at --keep-replaced (Undo)
//
// The member variables are the ones the etcd container already gets (see
// package server), so an init container can share its environment.
//
// Steps (see Restore): manifest, version check (a backup of a newer etcd
// minor than this binary's is refused), data dir check, download into a
// work dir beside the data dir while decrypting, decompressing and hashing,
// size and SHA-256 compared with the manifest, storage version of the file
// checked, etcd's restore (etcdutl v3.7.3 snapshot.Restore, with
// RevisionBump and MarkCompacted) into the work dir, a marker file
// (RestoreMarkerFile), then one rename into place. The data dir is not
// touched until that rename, so a failure leaves it as it was. Running the
// same restore again on its own result does nothing and succeeds (exit 0,
// "restored":false), which makes it safe as an init container; a data dir
// holding any other member or files is refused without --force.
//
// A snapshot Quorum did not make has no manifest: the object is then read
// as the raw file of `etcdctl snapshot save` (gzip, zstd or
// Quorum-encrypted bytes are refused by their first bytes), its SHA-256 is computed on the
// way, and the SHA-256 etcd appended to it is checked (snapfile.go). Every
// snapshot, with or without manifest, must carry etcd's hash unless
// --skip-hash-check; a hash present but wrong is always refused. Without a
// manifest, the data dir check runs after the download (the SHA-256 that
// identifies the restore is only known then).
//
// --verify-only, with or without a manifest, runs every step but the data
// dir check and the rename (Verify) into a temporary dir under $TMPDIR,
// removed before it exits: whatever would make a member's restore fail
// with the same snapshot and binary fails it first. --undo is the way
// back from an in-place restore that failed on other members: once per
// restore ID, it swaps the kept data dir back into place (Undo).
//
// The bump and the compaction mark make every revision a client or watch
// cache saw before the disaster lie below the restored revision, and turn a
// watch or read at an old revision into a "compacted" error (Kubernetes
// informers then relist), as etcd's recovery guide recommends.
//
// # Output, exit status, termination message
//
// Logs are JSON on stderr. On success the last stdout line is the result
// (the manifest for backup, a RestoreResult for restore) and the same line
// is written to /dev/termination-log (QUORUM_TERMINATION_LOG overrides the
// path). On failure one line "quorum-etcd <cmd> failed: <reason>" goes to
// stderr and "<cmd> failed: <reason>" to the termination log, cut to 4000
// bytes. The termination log is written only if it already exists (Kubernetes
// mounts it), never created. Exit status: 0 success, 1 failure, 2 usage
// error (bad or missing flags).
package backup
