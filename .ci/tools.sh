# Tools built with go install at pinned versions (sourced by .ci/run).
command -v staticcheck >/dev/null || go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
# MinIO for the artifact store's end-to-end test (pinned inside the script).
bash .ci/install-minio.sh
