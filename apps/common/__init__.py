"""What the five apps share: the command line (`cli.py`), runs (`run.py`), config checks
(`config.py`) and the report helpers (`report.py`)."""
