package main

import (
	"context"

	"github.com/ironworks-ci/ironworks/coordinator/config"
	"github.com/ironworks-ci/ironworks/coordinator/store"
	"github.com/ironworks-ci/ironworks/coordinator/web"
)

// addExtras mounts the handlers of other concerns (subscriptions, the bench
// queue) on the web server.
func addExtras(ctx context.Context, cfg *config.Config, st *store.Store, opts *web.Options) error {
	return nil
}
