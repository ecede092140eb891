"""The application pipelines built on seqlib: one folder per app, the same verbs in each."""
