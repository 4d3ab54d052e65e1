"""The core: documents and outcomes, output schemas, paths, errors, stable hashing, registries, the numba switch and the base config model. Imports nothing else from corpusflow."""
