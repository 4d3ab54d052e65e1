"""Input and output: file systems, readers, Parquet schemas and writers."""
