"""Manifests, corpus preparation, datasets, batching and augmentation (training side)."""
