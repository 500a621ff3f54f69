// Package imagetest builds container images from scratch, in-process, for
// tests: a busybox image, the test HTTP app, a whiteout image and a multi-layer
// image, plus an in-process registry (with wrappers that require credentials,
// refuse, or corrupt a blob) and writers for OCI layouts and docker archives.
//
// There is no Docker Hub in the test environment, so every suite that runs a
// container gets its image here. Layers are deterministic (fixed times, uid and
// gid 0 unless a file says otherwise), so the same fixture has the same digests
// in every call and every process.
package imagetest
