package artifacts

import "github.com/ironworks-ci/ironworks/coordinator/pipeline"

// Both stores are what the pipeline writes logs to.
var (
	_ pipeline.ArtifactStore = (*FS)(nil)
	_ pipeline.ArtifactStore = (*S3)(nil)
	_ Store                  = (*FS)(nil)
	_ Store                  = (*S3)(nil)
)
