package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/gatehouse-dev/gatehouse/internal/config"
)

// command is one subcommand: what help says about it and what runs it.
type command struct {
	name    string
	args    string // after the name in the usage line
	summary string
	// scope says which configuration applies; noConfig for none.
	scope config.Scope
	// extra registers the command's own flags beyond the configuration's.
	extra func(fs *flag.FlagSet)
	// hide lists variables of the scope that the command sets itself.
	hide []string
	run  func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// noConfig marks commands that read no configuration.
const noConfig config.Scope = -1

// commands lists every subcommand in the order help shows them: dev first,
// since it is what a newcomer runs.
var commands []command

func init() {
	commands = []command{
		{name: "dev", args: "[flags]", summary: "try it: the server with a demo organization, a built-in test IdP and an API key",
			scope: config.ScopeServer, hide: []string{"GATEHOUSE_ALLOW_PRIVATE_TARGETS"}, run: dev},
		{name: "serve", args: "[flags]", summary: "run the server", scope: config.ScopeServer, run: serve},
		{name: "migrate", args: "[flags]", summary: "apply database migrations and exit", scope: config.ScopeStorage, run: migrate},
		{name: "keys", args: "create [--name NAME] | list | revoke KEY_ID | reseal  [flags]", summary: "create, list and revoke API keys offline; reseal secrets after a master key change",
			scope: config.ScopeStorage, run: keys, extra: func(fs *flag.FlagSet) {
				fs.String("name", "cli", "keys create: a name to recognise the key by")
			}},
		{name: "version", summary: "print the version", scope: noConfig, run: func(_ context.Context, _ []string, stdout, _ io.Writer) error {
			fmt.Fprintln(stdout, "gatehouse", version)
			return nil
		}},
		{name: "help", args: "[command]", summary: "show this help, or a command's flags and environment variables", scope: noConfig, run: help},
	}
}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// usage is the top-level help.
func usage(w io.Writer) {
	fmt.Fprint(w, "Gatehouse: self-hosted enterprise SSO (SAML, OIDC) and directory sync (SCIM), WorkOS-compatible.\n\n")
	fmt.Fprint(w, "Usage: gatehouse <command> [flags]\n\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, "\nRun \"gatehouse <command> -h\" for a command's flags and environment variables.\n")
}

// help prints the top-level help, or one command's.
func help(_ context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) == 0 {
		usage(stdout)
		return nil
	}
	c, ok := lookup(args[0])
	if !ok {
		return fmt.Errorf("unknown command %q; run \"gatehouse help\" for the list", args[0])
	}
	c.help(stdout)
	return nil
}

// help prints the command's usage, its own flags and the GATEHOUSE_*
// variables that apply to it. Defaults shown are the built-in ones, never
// values from the environment (which may hold a database password).
func (c command) help(w io.Writer) {
	fmt.Fprintf(w, "Usage: gatehouse %s %s\n\n%s.\n", c.name, c.args, strings.ToUpper(c.summary[:1])+c.summary[1:])
	if c.scope == noConfig {
		return
	}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	empty := func(string) (string, bool) { return "", false }
	if c.scope == config.ScopeServer {
		config.Load(fs, nil, empty)
	} else {
		config.LoadStorage(fs, nil, empty)
	}
	if c.extra != nil {
		c.extra(fs)
	}
	fmt.Fprint(w, "\nFlags (each also read from the variable named in parentheses; a flag wins):\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, "\nEnvironment:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	for _, v := range config.VarsFor(c.scope) {
		if v.Flag != "" || slices.Contains(c.hide, v.Env) {
			continue
		}
		def := ""
		if v.Default != "" {
			def = " (default " + v.Default + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s%s\n", v.Env, v.Help, def)
	}
	tw.Flush()
}

// wantsHelp reports whether args ask for help (-h, -help, --help) before
// any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}
