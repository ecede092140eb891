"""Hostile files for the fuzz tests, and the property every reader of user data holds.

The strategies build three kinds of file from a valid one (a list of lines):

- arbitrary bytes (`arbitrary_bytes`);
- the valid file with one or two faults (`hostile_file`): a field replaced by
  a hostile value (wrong type, NaN/inf, empty, huge, an unterminated quote, a
  line break, a NUL, a BOM), bytes that are not UTF-8 in one line, a BOM, and
  every line ending chosen among `\\n`, `\\r\\n` and `\\r`;
- any of these truncated at a random byte.

The property (`data_or_error`): a reader returns valid data or raises the
project's one data error, `DataError`, whose message is one line naming the
file. Anything else that escapes (csv.Error, UnicodeDecodeError, KeyError,
IndexError, pandas' or numpy's ValueError, PIL's or TF's decode errors) fails
the test.
"""

import contextlib
import tempfile
from pathlib import Path

from hypothesis import strategies as st

from datasets.fetch import DataError

ENDINGS = ("\n", "\r\n", "\r")

# Values a careless export or a broken editor puts in a field.
HOSTILE_VALUES = (
    "",
    " ",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "1e999",
    "-1",
    "0",
    "-0",
    "1,5",
    "1.2.3",
    "abc",
    "None",
    "null",
    "True",
    "9" * 400,
    "9" * 5000,  # more digits than int() reads (sys.get_int_max_str_digits)
    "x" * 5000,
    '"',
    '"unterminated',
    'a"b',
    '""',
    "\x00",
    "a\x00b",
    "\r",
    "\n",
    "a\rb",
    "a\r\nb",
    "\ufeff",
    "\u2028",
    "\t",
    ",",
    "#",
    "X:",
    "é",
    "\U0001f600",
    "2013-02-30",
    "0000-00-00",
    "9999-99-99",
)
# Byte runs that are not UTF-8 (or are, but hurt): a lone continuation byte, a cut
# sequence, an encoded surrogate, an overlong form, a NUL, a BOM in mid-line.
HOSTILE_BYTES = (
    b"\xff",
    b"\x80",
    b"\xc3",
    b"\xe2\x82",
    b"\xed\xa0\x80",
    b"\xc0\xaf",
    b"\x00",
    b"\xef\xbb\xbf",
    b"\xfe\xff",
)

hostile_values = st.one_of(st.sampled_from(HOSTILE_VALUES), st.text(max_size=12))
# Random bytes rarely hold the characters a parser acts on; half the draws are
# made of those characters, so that the parser's every state is reached.
_TOKENS = (
    b",",
    b"\t",
    b"\r",
    b"\n",
    b'"',
    b"#",
    b"X:",
    b"0",
    b"4",
    b"1.5",
    b"a",
    b" ",
    *HOSTILE_BYTES,
)
arbitrary_bytes = st.one_of(
    st.binary(max_size=2048),
    st.lists(st.sampled_from(_TOKENS), max_size=200).map(b"".join),
)


@st.composite
def hostile_file(draw, lines, sep=","):
    """The bytes of `lines` (each a string, fields joined by `sep`) with one or two
    faults (see the module docstring), truncated at a random byte in one case out
    of four."""
    lines = list(lines)
    mixed = False
    for _ in range(draw(st.integers(1, 2))):
        fault = draw(st.sampled_from(("field", "field", "bytes", "bom", "endings")))
        i = draw(st.integers(0, len(lines) - 1))
        if fault == "endings":
            mixed = True
        elif fault == "field":
            fields = lines[i].split(sep)
            j = draw(st.integers(0, len(fields) - 1))
            fields[j] = draw(hostile_values)
            lines[i] = sep.join(fields)
        elif fault == "bytes":
            at = draw(st.integers(0, len(lines[i])))
            marker = "\x00\x01\x02"  # replaced by the raw bytes once encoded
            lines[i] = lines[i][:at] + marker + lines[i][at:]
        else:
            lines[i] = "\ufeff" + lines[i]
    endings = [draw(st.sampled_from(ENDINGS)) if mixed else "\n" for _ in lines]
    text = "".join(line + end for line, end in zip(lines, endings))
    raw = text.encode("utf-8")
    while b"\x00\x01\x02" in raw:
        raw = raw.replace(b"\x00\x01\x02", draw(st.sampled_from(HOSTILE_BYTES)), 1)
    if draw(st.integers(0, 3)) == 0:
        raw = raw[: draw(st.integers(0, len(raw)))]
    return raw


def truncated(raw):
    """`raw` cut at a random byte."""
    return st.integers(0, len(raw)).map(lambda n: raw[:n])


@contextlib.contextmanager
def workspace():
    """A fresh folder for one example, deleted after it: `(folder, data root)`."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        folder = Path(folder)
        yield folder, folder / "data"


def data_or_error(read, *args, names, **kwargs):
    """`read(*args, **kwargs)`, or None when it raised `DataError`, whose message
    must be one line naming `names` (the file or folder at fault); any other
    exception propagates and fails the test."""
    try:
        return read(*args, **kwargs)
    except DataError as error:
        message = str(error)
        assert "\n" not in message.strip(), f"a message of several lines: {message!r}"
        assert str(names) in message, f"the message does not name {names}: {message!r}"
        return None
