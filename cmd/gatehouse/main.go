// Command gatehouse is the Gatehouse server and its admin tools.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/gatehouse-dev/gatehouse/internal/apikey"
	"github.com/gatehouse-dev/gatehouse/internal/app"
	"github.com/gatehouse-dev/gatehouse/internal/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return fmt.Errorf("no command given")
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help":
		usage(stdout)
		return nil
	case "--version", "-v":
		name = "version"
	}
	c, ok := lookup(name)
	if !ok {
		usage(stderr)
		return fmt.Errorf("unknown command %q", name)
	}
	if wantsHelp(rest) {
		c.help(stdout)
		return nil
	}
	return c.run(ctx, rest, stdout, stderr)
}

// loadConfig reads the configuration of the named command: only the
// flags that apply to it.
func loadConfig(name string, args []string, stderr io.Writer) (config.Config, *slog.Logger, error) {
	fs := newFlagSet(name, stderr)
	load := config.Load
	if c, _ := lookup(name); c.scope == config.ScopeStorage {
		load = config.LoadStorage
	}
	cfg, err := load(fs, args, nil)
	if err != nil {
		return cfg, nil, err
	}
	return cfg, newLogger(cfg, stderr), nil
}

// newFlagSet returns a command's flag set; a mistake points at the
// command's help rather than printing it all.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintf(stderr, "Run \"gatehouse %s -h\" for its flags.\n", strings.Fields(name)[0]) }
	return fs
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, log, err := loadConfig("serve", args, stderr)
	if err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	printBanner(stdout, a, "")
	return a.Serve(ctx, ln)
}

func printBanner(w io.Writer, a *app.App, apiKey string) {
	db := "SQLite (" + a.Config.DataDir + ")"
	if a.Config.DatabaseURL != "" {
		db = "PostgreSQL"
	}
	fmt.Fprintf(w, "Gatehouse %s listening on %s\n", version, a.Config.BaseURL)
	fmt.Fprintf(w, "  database:  %s\n", db)
	fmt.Fprintf(w, "  client ID: %s\n", a.ClientID)
	if apiKey != "" {
		fmt.Fprintf(w, "  API key:   %s\n", apiKey)
	} else if a.Config.APIKey == "" {
		fmt.Fprintf(w, "  API key:   none configured; create one with `gatehouse keys create` or set GATEHOUSE_API_KEY\n")
	}
}

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, _, err := loadConfig("migrate", args, stderr)
	if err != nil {
		return err
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(stdout, "migrations applied (%s)\n", st.Dialect())
	return nil
}

// NewAPIKey returns a new random API key.
func NewAPIKey() string { return apikey.NewSecret() }

const keysUsage = `usage: gatehouse keys create [--name NAME] | list | revoke KEY_ID | reseal [flags]`

// keys manages API keys offline, straight in the database: for the first
// key, and for when no working key is left.
func keys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(keysUsage)
	}
	sub, args := args[0], args[1:]
	if sub == "reseal" {
		return resealKeys(ctx, args, stdout, stderr)
	}
	fs := newFlagSet("keys "+sub, stderr)
	var name *string
	switch sub {
	case "create":
		name = fs.String("name", "cli", "a name to recognise the key by")
	case "list", "revoke":
	default:
		return fmt.Errorf("unknown keys command %q; %s", sub, keysUsage)
	}
	// The key ID may come before the flags or after them.
	var keyID string
	if sub == "revoke" && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		keyID, args = args[0], args[1:]
	}
	cfg, err := config.LoadStorage(fs, args, nil)
	if err != nil {
		return err
	}
	if sub == "revoke" {
		switch {
		case keyID == "" && fs.NArg() == 1:
			keyID = fs.Arg(0)
		case keyID != "" && fs.NArg() == 0:
		default:
			return errors.New("usage: gatehouse keys revoke KEY_ID (see gatehouse keys list)")
		}
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := &apikey.Service{Store: st}
	switch sub {
	case "create":
		k, err := svc.Create(ctx, *name)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, k.Value)
		fmt.Fprintf(stderr, "Created %s (%s). Store this key now: Gatehouse keeps only its hash and cannot show it again.\n", k.ID, k.Name)
	case "list":
		ks, err := svc.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tKEY\tCREATED\tLAST USED")
		for _, k := range ks {
			used := "never"
			if k.LastUsedAt != nil {
				used = *k.LastUsedAt
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.ObfuscatedValue, k.CreatedAt, used)
		}
		return tw.Flush()
	case "revoke":
		if err := svc.Revoke(ctx, keyID); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", keyID)
	}
	return nil
}
