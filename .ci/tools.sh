# Tools built with go install at pinned versions (sourced by .ci/run).
command -v staticcheck >/dev/null || go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
command -v deadcode >/dev/null || go install golang.org/x/tools/cmd/deadcode@v0.51.0
# MinIO for the artifact store's end-to-end test (pinned inside the script).
bash .ci/install-minio.sh
