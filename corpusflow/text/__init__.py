"""Text processing as plain functions: normalisation, HTML extraction, URL rules, language ID (fastText) and the config models of those stages."""
