package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/artifacts"
)

func init() {
	register(&command{name: "serve-artifacts", summary: "serve notify-pr's filesystem store over HTTP (signed links), deleting expired files", run: serveArtifactsCmd})
}

// serveArtifactsCmd serves the folder notify-pr uploads to (kind fs) at
// /artifacts/, checking each link's signature and expiry, and deletes files
// whose retention passed, hourly.
func serveArtifactsCmd(ctx context.Context, args []string) int {
	fs := newFlags("serve-artifacts", "Serve notify-pr's filesystem store: GET /artifacts/<key>?expires=&sig= for the signed links\n"+
		"notify-pr made with the same folder and key; GET /healthz. Expired files are deleted hourly.\n"+
		"Put it behind the URL given to notify-pr as store.url (--store-url).")
	file := fs.String("file", "", "notify-pr TOML file whose [store] dir and key_file to use")
	dir := fs.String("dir", "", "the store's folder (store.dir)")
	keyFile := fs.String("key-file", "", "file holding the key that signs links (store.key_file)")
	listen := fs.String("listen", "127.0.0.1:8081", "address to listen on")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "coordinator serve-artifacts: "+format+"\n", a...)
		return code
	}
	if *file != "" {
		data, err := os.ReadFile(*file)
		if err != nil {
			return fail(exitUsage, "%v", err)
		}
		in, err := parseNotifyPRFile(*file, data)
		if err != nil {
			return fail(exitUsage, "%v", err)
		}
		rel := func(p string) string {
			if p == "" || filepath.IsAbs(p) {
				return p
			}
			return filepath.Join(filepath.Dir(*file), p)
		}
		if *dir == "" {
			*dir = rel(in.Store.Dir)
		}
		if *keyFile == "" {
			*keyFile = rel(in.Store.KeyFile)
		}
	}
	if *dir == "" || *keyFile == "" {
		return fail(exitUsage, "--dir and --key-file (or --file with [store] dir and key_file) are required")
	}
	st, _, err := openNotifyPRStore(ctx, notifyPRStore{Kind: "fs", Dir: *dir, KeyFile: *keyFile}, defaultRetentionDays, nil)
	if err != nil {
		return fail(exitConfig, "%v", err)
	}
	f := st.(*artifacts.FS)
	mux := http.NewServeMux()
	mux.Handle("/artifacts/", f.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fail(exitInfra, "listen %s: %v", *listen, err)
	}
	logger := newLogger(os.Stderr)
	srv := newHTTPServer(mux)
	fmt.Fprintf(os.Stdout, "listening on http://%s\n", ln.Addr())
	go artifacts.RunExpiry(ctx, f, time.Hour, func(format string, a ...any) { logger.Warn(fmt.Sprintf(format, a...)) })
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fail(exitInfra, "%v", err)
		}
	}
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	return exitOK
}
