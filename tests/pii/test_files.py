"""Reading sources: text in any byte encoding is scanned and written back byte for byte;
only files with a NUL byte near the start are binary."""

from __future__ import annotations

from pii.files import encode_source, read_source


def test_non_utf8_bytes_decode_losslessly_and_encode_back(tmp_path):
    data = bytes(range(1, 256)) * 3  # every byte value but NUL: no valid UTF-8, not binary
    (tmp_path / "all.txt").write_bytes(data)
    text, note = read_source(tmp_path / "all.txt", None)
    assert note == "non_utf8" and encode_source(text) == data


def test_utf8_text_read_as_is(tmp_path):
    (tmp_path / "a.py").write_text("caf\u00e9 = '\U0001f600'\n", encoding="utf-8")
    assert read_source(tmp_path / "a.py", None) == ("caf\u00e9 = '\U0001f600'\n", None)


def test_nul_byte_in_the_first_8_kb_is_binary_later_is_text(tmp_path):
    (tmp_path / "head.bin").write_bytes(b"x" * 8000 + b"\0" + b"y" * 100)
    (tmp_path / "tail.txt").write_bytes(b"x" * 9000 + b"\0")
    assert read_source(tmp_path / "head.bin", None) == (None, "binary")
    assert read_source(tmp_path / "tail.txt", None) == ("x" * 9000 + "\0", None)
