// Command gatehouse is the Gatehouse server and its admin tools.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/gatehouse-dev/gatehouse/internal/app"
	"github.com/gatehouse-dev/gatehouse/internal/config"
	"github.com/gatehouse-dev/gatehouse/internal/secrets"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

const usage = `Gatehouse: self-hosted enterprise SSO, directory sync and log streams, WorkOS-compatible.

Usage:
  gatehouse serve   [flags]   run the server
  gatehouse migrate [flags]   apply database migrations and exit
  gatehouse keys create [flags]   create an API key and print it once
  gatehouse keys reseal [flags]   seal stored secrets again under the first GATEHOUSE_SECRET_KEY
  gatehouse version           print the version

Run "gatehouse <command> -h" for a command's flags. Every flag also reads a GATEHOUSE_* variable.
`

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
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, stdout, stderr)
	case "migrate":
		return migrate(ctx, rest, stdout, stderr)
	case "keys":
		switch {
		case len(rest) > 0 && rest[0] == "create":
			return createKey(ctx, rest[1:], stdout, stderr)
		case len(rest) > 0 && rest[0] == "reseal":
			return resealKeys(ctx, rest[1:], stdout, stderr)
		}
		return fmt.Errorf("usage: gatehouse keys create|reseal [flags]")
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "gatehouse", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	if extra, ok := extraCommands[cmd]; ok {
		return extra(ctx, rest, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// extraCommands lets other files of this package add subcommands (dev).
var extraCommands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{}

func loadConfig(name string, args []string, stderr io.Writer) (config.Config, *slog.Logger, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, err := config.Load(fs, args, nil)
	if err != nil {
		return cfg, nil, err
	}
	return cfg, newLogger(cfg, stderr), nil
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

// NewAPIKey returns a new random API key, "sk_" + 32 random bytes.
func NewAPIKey() string {
	return "sk_" + secrets.Token(32)
}

func createKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "cli", "a name to recognise the key by")
	cfg, err := config.Load(fs, args, nil)
	if err != nil {
		return err
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	key := NewAPIKey()
	if err := app.RegisterAPIKey(ctx, st, key, *name); err != nil {
		return err
	}
	fmt.Fprintln(stdout, key)
	fmt.Fprintln(stderr, "Store this key now: Gatehouse keeps only its hash and cannot show it again.")
	return nil
}
