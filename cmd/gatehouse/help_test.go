package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/config"
)

// TestHelp: every way of asking for help succeeds on stdout; the command
// list starts with dev and has one line per command; each command's help
// shows only its own flags and variables.
func TestHelp(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		args    []string
		want    []string
		notWant []string
	}{
		{"--help", []string{"--help"}, []string{"Commands:\n  dev ", "  serve ", "  migrate ", "  keys ", "  version ", "  help "}, nil},
		{"-h", []string{"-h"}, []string{"Commands:\n  dev "}, nil},
		{"help", []string{"help"}, []string{"Commands:\n  dev "}, nil},
		{"serve -h", []string{"serve", "-h"}, []string{"Usage: gatehouse serve", "-addr", "-trusted-proxies", "-rate-limit-sso",
			"GATEHOUSE_DNS_TIMEOUT", "GATEHOUSE_SECRET_KEY", "GATEHOUSE_ALLOW_PRIVATE_TARGETS"}, []string{"-name"}},
		{"serve --help after flags", []string{"serve", "--addr", "127.0.0.1:1", "--help"}, []string{"Usage: gatehouse serve"}, nil},
		{"help serve", []string{"help", "serve"}, []string{"Usage: gatehouse serve", "-addr"}, nil},
		{"dev -h", []string{"dev", "-h"}, []string{"Usage: gatehouse dev", "-addr", "GATEHOUSE_REDIRECT_URIS"},
			[]string{"GATEHOUSE_ALLOW_PRIVATE_TARGETS"}},
		{"migrate -h", []string{"migrate", "-h"}, []string{"-data-dir", "-database-url", "GATEHOUSE_SECRET_KEY"},
			[]string{"-addr", "-log-level", "GATEHOUSE_REDIRECT_URIS", "GATEHOUSE_DNS_TIMEOUT", "-rate-limit", "-name"}},
		{"keys create -h", []string{"keys", "create", "-h"}, []string{"keys create [--name NAME] | list | revoke KEY_ID", "-name", "-data-dir"},
			[]string{"-addr", "GATEHOUSE_API_KEY"}},
		{"keys -h", []string{"keys", "-h"}, []string{"Usage: gatehouse keys"}, nil},
		{"version -h", []string{"version", "-h"}, []string{"Usage: gatehouse version"}, []string{"Flags", "GATEHOUSE_"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := run(ctx, tc.args, &out, &errOut); err != nil {
				t.Fatalf("err = %v", err)
			}
			if strings.Contains(out.String()+errOut.String(), "help requested") || errOut.Len() != 0 {
				t.Errorf("stderr = %q", errOut.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("help lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out.String(), w) {
					t.Errorf("help mentions %q, which does not apply:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestHelpListsWhatExists: each command in the list has a one-line summary
// and its own help, and nothing else is listed.
func TestHelpListsWhatExists(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	_, list, _ := strings.Cut(out.String(), "Commands:\n")
	list, _, _ = strings.Cut(list, "\n\n")
	var names []string
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			t.Errorf("command line without a summary: %q", line)
			continue
		}
		names = append(names, f[0])
		var sub bytes.Buffer
		if err := run(context.Background(), []string{f[0], "-h"}, &sub, &bytes.Buffer{}); err != nil || !strings.Contains(sub.String(), "Usage: gatehouse "+f[0]) {
			t.Errorf("%s -h: %v %q", f[0], err, sub.String())
		}
	}
	if strings.Join(names, " ") != "dev serve migrate keys version help" {
		t.Errorf("commands listed: %v", names)
	}
}

// TestServeHelpNamesEveryVariable: serve reads every setting, so its help
// names every GATEHOUSE_* variable.
func TestServeHelpNamesEveryVariable(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"serve", "-h"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for _, v := range config.Vars {
		if !strings.Contains(out.String(), v.Env) {
			t.Errorf("serve -h does not name %s", v.Env)
		}
	}
}

// TestHelpDoesNothingElse: asking for help opens no database.
func TestHelpDoesNothingElse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := run(context.Background(), []string{"migrate", "--data-dir", dir, "-h"}, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("help created the data dir: %v", err)
	}
}
