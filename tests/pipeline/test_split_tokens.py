"""Offline token counting: tiktoken from verified local files only, else a local approximation."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import tiktoken
import tiktoken.load
import tiktoken.registry
from hypothesis import given, settings
from hypothesis import strategies as st

from llmassert.pipeline.tokens import (
    _SEQUENTIAL_RANKS,
    ApproxTokenizer,
    cache_dirs,
    encoding_name,
    find_bpe_file,
    get_tokenizer,
    load_tiktoken,
    parse_bpe,
)

TEXT = (
    "Incident 42: the payment gateway returned HTTP 502 for 17 minutes. "
    "Root cause — a certificate rotation 🔐 was applied to only one of two nodes. 東京 region. "
)


def test_model_encodings_follow_tiktoken_and_default_to_o200k() -> None:
    assert encoding_name("openai/gpt-4") == "cl100k_base"
    assert encoding_name("gpt-4o-mini") == "o200k_base"
    assert encoding_name("openai/fake-model") == "o200k_base"  # unknown: DocETL's choice
    assert encoding_name(None) == "o200k_base"


def test_bundled_tiktoken_file_is_used_and_counts_match_tiktoken() -> None:
    tok = get_tokenizer("openai/fake-model")
    assert tok.name == "tiktoken:o200k_base"  # litellm ships the file; no download needed
    reference = tiktoken.get_encoding("o200k_base")
    assert tok.count(TEXT) == len(reference.encode(TEXT))


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_fast_bpe_parse_gives_tiktokens_own_ranks(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = find_bpe_file(name, cache_dirs())
    assert path is not None  # litellm ships both files
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(path.parent))  # tiktoken reads it, offline
    url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
    ranks = tiktoken.load.load_tiktoken_bpe(url)
    assert parse_bpe(path.read_bytes()) == ranks
    # Both are listed as sequential: counting the ranks gives tiktoken's too.
    assert name in _SEQUENTIAL_RANKS
    assert parse_bpe(path.read_bytes(), sequential=True) == ranks
    with pytest.raises(ValueError, match="odd number"):
        parse_bpe(b"IQ== 0\nIg==")


def test_only_files_whose_ranks_count_up_are_listed_as_sequential(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = find_bpe_file("p50k_base", cache_dirs())
    assert path is not None  # litellm ships it too
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(path.parent))
    url = "https://openaipublic.blob.core.windows.net/encodings/p50k_base.tiktoken"
    ranks = tiktoken.load.load_tiktoken_bpe(url)
    assert "p50k_base" not in _SEQUENTIAL_RANKS
    assert parse_bpe(path.read_bytes()) == ranks
    assert parse_bpe(path.read_bytes(), sequential=True) != ranks  # its ranks skip numbers


def test_loading_never_reaches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(blobpath: str) -> bytes:
        raise AssertionError(f"tiktoken tried to fetch {blobpath}")

    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    # Forget tiktoken's in-process copy so the file is really read again.
    monkeypatch.delitem(tiktoken.registry.ENCODINGS, "cl100k_base", raising=False)
    tok = load_tiktoken("cl100k_base")
    assert tok is not None and tok.name == "tiktoken:cl100k_base"
    # An encoding with no local file gives None instead of a download.
    assert load_tiktoken("r50k_base", dirs=[]) is None


def test_corrupt_or_missing_files_are_refused(tmp_path: Path) -> None:
    assert find_bpe_file("o200k_base", [tmp_path]) is None
    key = hashlib.sha1(
        b"https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    ).hexdigest()
    (tmp_path / key).write_bytes(b"not a bpe file")
    # tiktoken would delete a file failing its hash and download a new one: we never hand it one.
    assert find_bpe_file("o200k_base", [tmp_path]) is None
    assert find_bpe_file("o200k_base", [tmp_path, *cache_dirs()]) is not None


@pytest.mark.parametrize("num_tokens", [1, 3, 50])
def test_tiktoken_chunks_rejoin_exactly_without_cutting_characters(num_tokens: int) -> None:
    tok = get_tokenizer("openai/fake-model")
    chunks = tok.chunks(TEXT * 3, num_tokens)
    assert "".join(chunks) == TEXT * 3
    assert all(chunks) and "\ufffd" not in "".join(chunks)


def test_ascii_chunks_are_docetls_token_slices() -> None:
    text = "".join(c for c in TEXT if c.isascii()) * 20
    enc = tiktoken.get_encoding("o200k_base")
    tokens = enc.encode(text)
    expected = [enc.decode(tokens[i : i + 40]) for i in range(0, len(tokens), 40)]
    assert get_tokenizer("openai/fake-model").chunks(text, 40) == expected


def test_approximation_is_deterministic_and_close_to_bpe() -> None:
    approx = ApproxTokenizer()
    text = TEXT * 10
    assert approx.count(text) == approx.count(text)
    real = get_tokenizer("openai/gpt-4").count(text)
    assert 0.6 * real <= approx.count(text) <= 1.6 * real
    with pytest.raises(ValueError):
        approx.chunks(text, 0)


@settings(max_examples=200, deadline=None)
@given(st.text(), st.integers(min_value=1, max_value=7))
def test_approximate_chunks_lose_nothing(text: str, n: int) -> None:
    chunks = ApproxTokenizer().chunks(text, n)
    assert "".join(chunks) == text
    assert all(1 <= ApproxTokenizer().count(c) <= n for c in chunks)
