package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/gatehouse-dev/gatehouse/internal/app"
	"github.com/gatehouse-dev/gatehouse/internal/config"
)

// resealKeys is `gatehouse keys reseal`: after a new master key is put
// first in GATEHOUSE_SECRET_KEY (old keys after it), it seals every stored
// secret again under the new key, so the old ones can then be removed.
func resealKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keys reseal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, err := config.Load(fs, args, nil)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	total := 0
	err = a.Reseal(ctx, func(what string, n int) {
		total += n
		fmt.Fprintf(stdout, "%s: %d resealed\n", what, n)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "done: %d values now sealed with key %s; keys after the first in GATEHOUSE_SECRET_KEY can be removed once every node has been restarted with this list\n",
		total, a.Sealer.CurrentKeyID())
	return nil
}
