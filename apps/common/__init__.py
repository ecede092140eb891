"""What the five apps share: the command line (`cli.py`) and the report helpers."""
