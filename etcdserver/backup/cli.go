package backup

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"quorum.dev/etcd-operator/etcdserver/backup/s3client"
	"quorum.dev/etcd-operator/etcdserver/server"
	"quorum.dev/etcd-operator/internal/contract"
)

// Exit codes of the commands, as for quorum-etcd serve.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// Termination log: Kubernetes shows its content as the container's
// terminated.message. EnvTerminationLog overrides the path (tests).
const (
	DefaultTerminationLog = contract.DefaultTerminationLog
	EnvTerminationLog     = contract.EnvTerminationLog
	maxTerminationMessage = contract.MaxTerminationMessage
)

// maxSource bounds the --source recorded in the manifest (sixteen long
// endpoints would not fit in the termination message with the rest).
const maxSource = 512

// Env is the process environment; os.LookupEnv in production.
type Env func(key string) (string, bool)

// IO is everything the commands use besides their arguments.
type IO struct {
	Stdout, Stderr io.Writer
	Env            Env
}

// OSIO is the real process IO.
func OSIO() IO { return IO{Stdout: os.Stdout, Stderr: os.Stderr, Env: os.LookupEnv} }

// command is the shared skeleton of backup and restore: flags with
// environment fallbacks, a JSON logger on stderr, the result as the last
// stdout line and in the termination log, one-line errors.
type command struct {
	name string
	io   IO
	fs   *flag.FlagSet
	envs map[string]string // flag name → env var
	lg   *zap.Logger
}

func newCommand(name, synopsis string, cio IO) *command {
	c := &command{name: name, io: cio, fs: flag.NewFlagSet("quorum-etcd "+name, flag.ContinueOnError), envs: map[string]string{}}
	c.fs.SetOutput(cio.Stderr)
	c.fs.Usage = func() {
		fmt.Fprintf(cio.Stderr, "usage: quorum-etcd %s [flags]\n\n%s\n\nflags (each falls back to the environment variable shown):\n", name, synopsis)
		c.fs.PrintDefaults()
	}
	return c
}

// bind records the env fallback of a flag already defined, and names it in
// the flag's usage.
func (c *command) bind(flagName, env string) {
	c.envs[flagName] = env
	f := c.fs.Lookup(flagName)
	f.Usage += " [$" + env + "]"
}

// parse parses args, then fills every flag not given from its environment
// variable. It returns the set of flags given either way.
func (c *command) parse(args []string) (map[string]bool, error) {
	if err := c.fs.Parse(args); err != nil {
		return nil, err
	}
	if c.fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", c.fs.Args())
	}
	set := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, env := range c.envs {
		if set[name] {
			continue
		}
		v, ok := c.io.Env(env)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		if err := c.fs.Set(name, strings.TrimSpace(v)); err != nil {
			return nil, fmt.Errorf("$%s: %w", env, err)
		}
		set[name] = true
	}
	return set, nil
}

func (c *command) logger() *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(c.io.Stderr), zap.InfoLevel)
	return zap.New(core).Named("quorum-etcd-" + c.name)
}

// succeed prints the result line and writes it to the termination log.
func (c *command) succeed(line []byte) int {
	fmt.Fprintf(c.io.Stdout, "%s\n", line)
	c.terminationMessage(string(line))
	return ExitOK
}

// fail prints a one-line error and writes it to the termination log.
func (c *command) fail(code int, err error) int {
	msg := oneLine(fmt.Sprintf("%s failed: %v", c.name, err))
	fmt.Fprintf(c.io.Stderr, "quorum-etcd %s\n", msg)
	c.terminationMessage(msg)
	return code
}

// terminationMessage writes msg to the termination log if that file exists
// and is writable; it is never created.
func (c *command) terminationMessage(msg string) {
	_ = contract.WriteTerminationMessage(contract.TerminationLogPath(c.io.Env), msg)
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\r", "")
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// storeFlags select the backup store; shared by both commands.
type storeFlags struct {
	s3Endpoint, s3CAFile, s3Region, bucket string
	s3Insecure                             bool
	dir, key, encryptionKeyFile            string
	// s3Credentials is an s3client.Source; s3STSEndpoint and
	// s3IAMEndpoint override AWS's endpoints.
	s3Credentials, s3STSEndpoint, s3IAMEndpoint string
}

func (c *command) storeFlags() *storeFlags {
	s := c.locationFlags()
	fs := c.fs
	fs.StringVar(&s.key, "key", "", "object key of the backup; the manifest is <key>"+ManifestSuffix)
	c.bind("key", "QUORUM_BACKUP_KEY")
	fs.StringVar(&s.encryptionKeyFile, "encryption-key-file", "", "file with a 32-byte AES-256 key (raw, 64 hex digits or base64)")
	c.bind("encryption-key-file", "QUORUM_ENCRYPTION_KEY_FILE")
	return s
}

// locationFlags are the flags of the bucket or directory and its
// credentials, without key or encryption (prune takes several keys).
func (c *command) locationFlags() *storeFlags {
	s := &storeFlags{}
	fs := c.fs
	fs.StringVar(&s.s3Endpoint, "s3-endpoint", "", "S3 endpoint host:port (https unless --s3-insecure)")
	c.bind("s3-endpoint", "QUORUM_S3_ENDPOINT")
	fs.BoolVar(&s.s3Insecure, "s3-insecure", false, "use plain http to the S3 endpoint")
	c.bind("s3-insecure", "QUORUM_S3_INSECURE")
	fs.StringVar(&s.s3CAFile, "s3-ca-file", "", "PEM CA bundle trusted for the S3 endpoint, besides the system roots")
	c.bind("s3-ca-file", "QUORUM_S3_CA_FILE")
	fs.StringVar(&s.s3Region, "s3-region", "", "S3 region (default: asked from the server)")
	c.bind("s3-region", "QUORUM_S3_REGION")
	fs.StringVar(&s.s3Credentials, "s3-credentials", string(s3client.SourceStatic), "where S3 credentials come from: static ("+
		EnvAccessKeyID+", "+EnvSecretAccessKey+" and optionally "+EnvSessionToken+"), web-identity (the token in $"+
		EnvWebIdentityTokenFile+" exchanged at STS for role $"+EnvRoleARN+") or instance-role (EKS Pod Identity or the instance metadata service)")
	c.bind("s3-credentials", "QUORUM_S3_CREDENTIALS")
	fs.StringVar(&s.s3STSEndpoint, "s3-sts-endpoint", "", "STS URL of --s3-credentials=web-identity (default: AWS STS, regional with --s3-region)")
	c.bind("s3-sts-endpoint", "QUORUM_S3_STS_ENDPOINT")
	fs.StringVar(&s.s3IAMEndpoint, "s3-iam-endpoint", "", "instance metadata URL of --s3-credentials=instance-role (default: EC2's, http://169.254.169.254)")
	c.bind("s3-iam-endpoint", "QUORUM_S3_IAM_ENDPOINT")
	fs.StringVar(&s.bucket, "bucket", "", "S3 bucket")
	c.bind("bucket", "QUORUM_S3_BUCKET")
	fs.StringVar(&s.dir, "dir", "", "directory (e.g. a mounted PVC) holding backups as <dir>/<key>, instead of S3")
	c.bind("dir", "QUORUM_BACKUP_DIR")
	return s
}

// store builds the store. Static S3 credentials come from
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and optionally
// AWS_SESSION_TOKEN; web identity from AWS_WEB_IDENTITY_TOKEN_FILE and
// optionally AWS_ROLE_ARN.
func (s *storeFlags) store(env Env) (Store, error) {
	s3 := s.s3Endpoint != "" || s.bucket != ""
	switch {
	case s.dir != "" && s3:
		return nil, errors.New("give either --dir or --s3-endpoint with --bucket, not both")
	case s.dir != "":
		return DirStore{Dir: s.dir}, nil
	case !s3:
		return nil, errors.New("no destination: give --s3-endpoint and --bucket, or --dir")
	case s.s3Endpoint == "" || s.bucket == "":
		return nil, errors.New("S3 needs both --s3-endpoint and --bucket")
	}
	get := func(k string) string { v, _ := env(k); return strings.TrimSpace(v) }
	cfg := S3Config{
		Endpoint: s.s3Endpoint, Insecure: s.s3Insecure, CAFile: s.s3CAFile, Region: s.s3Region, Bucket: s.bucket,
		Credentials: s3client.Source(s.s3Credentials), STSEndpoint: s.s3STSEndpoint, IAMEndpoint: s.s3IAMEndpoint,
	}
	switch cfg.Credentials {
	case s3client.SourceStatic:
		cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken = get(EnvAccessKeyID), get(EnvSecretAccessKey), get(EnvSessionToken)
	case s3client.SourceWebIdentity:
		cfg.WebIdentityTokenFile, cfg.RoleARN = get(EnvWebIdentityTokenFile), get(EnvRoleARN)
	case s3client.SourceInstanceRole:
	default:
		return nil, fmt.Errorf("--s3-credentials=%s: use one of %v", s.s3Credentials, s3client.Sources)
	}
	if s.s3STSEndpoint != "" && cfg.Credentials != s3client.SourceWebIdentity {
		return nil, errors.New("--s3-sts-endpoint is for --s3-credentials=web-identity")
	}
	if s.s3IAMEndpoint != "" && cfg.Credentials != s3client.SourceInstanceRole {
		return nil, errors.New("--s3-iam-endpoint is for --s3-credentials=instance-role")
	}
	return NewS3Store(cfg)
}

func (s *storeFlags) encryptionKey() ([]byte, error) {
	if s.encryptionKeyFile == "" {
		return nil, nil
	}
	return LoadKey(s.encryptionKeyFile)
}

// BackupMain is `quorum-etcd backup`.
func BackupMain(ctx context.Context, args []string, cio IO) int {
	c := newCommand("backup", "Streams a snapshot of a healthy member to S3 or a directory and writes <key>"+
		ManifestSuffix+".\nPrints the manifest as the last stdout line and writes it to "+DefaultTerminationLog+".", cio)
	sf := c.storeFlags()
	var endpoints, tlsDir, user, passwordFile, compress, source string
	var timeout time.Duration
	c.fs.StringVar(&endpoints, "endpoints", "", "comma-separated etcd client URLs")
	c.bind("endpoints", "QUORUM_ENDPOINTS")
	c.fs.StringVar(&tlsDir, "tls-dir", "", "directory with ca.crt and the client certificate tls.crt and tls.key (which a cluster without --client-cert-auth does not need); empty for plain http")
	c.bind("tls-dir", "QUORUM_CLIENT_TLS_DIR")
	c.fs.StringVar(&user, "user", "", "etcd user (the snapshot needs the root role when auth is on)")
	c.bind("user", "QUORUM_ETCD_USER")
	c.fs.StringVar(&passwordFile, "password-file", "", "file holding the etcd user's password")
	c.bind("password-file", "QUORUM_ETCD_PASSWORD_FILE")
	c.fs.StringVar(&compress, "compress", DefaultCompression, "compression: "+strings.Join(Compressions, ", ")+" (backups of every value restore)")
	c.bind("compress", "QUORUM_COMPRESS")
	c.fs.StringVar(&source, "source", "", "what is backed up, recorded in the manifest (\"EtcdCluster ns/name\", \"external https://...\")")
	c.bind("source", "QUORUM_BACKUP_SOURCE")
	c.fs.DurationVar(&timeout, "timeout", time.Hour, "time limit of the whole backup; 0 for none")
	c.bind("timeout", "QUORUM_TIMEOUT")
	if _, err := c.parse(args); err != nil {
		return c.usage(err)
	}

	if len(source) > maxSource {
		// The manifest must stay well below the termination message limit.
		source = source[:maxSource-len(" ...")] + " ..."
	}
	o := BackupOptions{Key: sf.key, Compression: compress, Source: source}
	o.Etcd = EtcdClient{Endpoints: splitList(endpoints), TLS: server.TLSDir(tlsDir), Username: user}
	if passwordFile != "" {
		if user == "" {
			return c.usage(errors.New("--password-file needs --user"))
		}
		b, err := os.ReadFile(passwordFile)
		if err != nil {
			return c.fail(ExitFailure, fmt.Errorf("reading password file: %w", err))
		}
		o.Etcd.Password = strings.TrimRight(string(b), "\r\n")
	}
	if err := o.validate(); err != nil {
		return c.usage(err)
	}
	st, err := sf.store(cio.Env)
	if err != nil {
		return c.usage(err)
	}
	if o.EncryptionKey, err = sf.encryptionKey(); err != nil {
		return c.fail(ExitFailure, err)
	}
	return c.run(ctx, timeout, func(ctx context.Context, lg *zap.Logger) ([]byte, error) {
		m, err := Backup(ctx, lg, o, st)
		if err != nil {
			return nil, err
		}
		return m.MarshalLine(), nil
	})
}

// run does the work of a command within its time limit (0: none), with
// its logger, and reports the result line or the failure.
func (c *command) run(ctx context.Context, timeout time.Duration, work func(context.Context, *zap.Logger) ([]byte, error)) int {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	lg := c.logger()
	defer func() { _ = lg.Sync() }()
	line, err := work(ctx, lg)
	if err != nil {
		return c.fail(ExitFailure, err)
	}
	return c.succeed(line)
}

// usage reports a usage error; -h is not one.
func (c *command) usage(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	code := c.fail(ExitUsage, err)
	fmt.Fprintf(c.io.Stderr, "run \"quorum-etcd %s -h\" for the flags\n", c.name)
	return code
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// bumpValue is a flag.Value of a revision bump: digits with optional
// underscores (1_000_000_000).
type bumpValue struct{ v *uint64 }

func (b bumpValue) String() string {
	if b.v == nil {
		return ""
	}
	return strconv.FormatUint(*b.v, 10)
}

func (b bumpValue) Set(s string) error {
	n, err := strconv.ParseUint(strings.ReplaceAll(s, "_", ""), 10, 63)
	if err != nil {
		return fmt.Errorf("not a non-negative integer: %q", s)
	}
	*b.v = n
	return nil
}
