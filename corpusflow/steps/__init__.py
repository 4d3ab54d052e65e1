"""Per-document steps as plain Python (no Beam): each takes a Document and returns it (maybe changed) or a Rejected / ErrorRecord. The Beam wing runs any list of them in one DoFn."""
