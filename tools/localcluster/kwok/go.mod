// Wrapper module: builds the kwok controller at a pinned version.
module erp.platform/localcluster/kwok

go 1.26.0

require sigs.k8s.io/kwok v0.8.0 // indirect
