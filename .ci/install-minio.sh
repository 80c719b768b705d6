#!/usr/bin/env bash
# Installs the MinIO server that coordinator/artifacts' end-to-end test and
# upload benchmark start on loopback. Idempotent; called from .ci/run.
set -euo pipefail
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c # builds with Go 1.26
if [ -n "${IRONWORKS_MINIO:-}" ] && [ -x "$IRONWORKS_MINIO" ]; then exit 0; fi
if command -v minio >/dev/null 2>&1 || [ -x "$(go env GOPATH)/bin/minio" ]; then exit 0; fi
GOFLAGS=-buildvcs=false go install "github.com/minio/minio@${MINIO_VERSION}"
