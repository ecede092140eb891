"""seqlib: recurrent cells written from their equations, attention and decoding tools.

Importing a submodule registers its layers for `.keras` deserialization under the
`seqlib>` package prefix.
"""

__version__ = "0.1.0"
