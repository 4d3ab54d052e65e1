"""Pure text functions (no Beam, no I/O): source cleaners and other per-text helpers."""
