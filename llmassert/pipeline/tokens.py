"""Token counting and token-sized chunking that never touches the network.

tiktoken downloads its BPE files from the internet on first use unless they sit in its cache
folder.  litellm ships the common ones (cl100k_base, o200k_base, p50k_base) inside its package,
so we look for the file there (and in tiktoken's usual cache folders), check its sha256, and only
then let tiktoken load it from that folder.  When no verified file exists we fall back to
:class:`ApproxTokenizer`, a deterministic regex approximation (about one token per short word
piece), so ``split`` still works offline and gives the same chunks on every machine.

Models map to encodings as tiktoken maps them; unknown models (``openai/fake-model``, most
non-OpenAI providers) use ``o200k_base``, as DocETL does, so our chunks match DocETL's.
"""

from __future__ import annotations

import binascii
import codecs
import hashlib
import importlib.util
import os
import re
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

DEFAULT_ENCODING = "o200k_base"
_BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
# sha256 of the published BPE files (the same pins tiktoken itself checks).
_EXPECTED_SHA256 = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "p50k_base": "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069",
    "r50k_base": "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
}
# Pinned files (above) whose ranks are 0, 1, 2 ... in file order, checked against tiktoken's
# own loader by tests/pipeline/test_split_tokens.py (p50k_base's skip numbers).
_SEQUENTIAL_RANKS = frozenset({"o200k_base", "cl100k_base"})
_env_lock = threading.Lock()


class Tokenizer(ABC):
    """Counts tokens and cuts text into pieces of at most ``n`` tokens."""

    name: str

    @abstractmethod
    def count(self, text: str) -> int:
        """Number of tokens in ``text``."""

    @abstractmethod
    def chunks(self, text: str, num_tokens: int) -> list[str]:
        """Consecutive, non-empty chunks of at most ``num_tokens`` tokens.

        Joined together they give back ``text`` exactly (no character is split or lost).
        """


class ApproxTokenizer(Tokenizer):
    """Deterministic stand-in for a BPE tokenizer: a piece is up to 5 word characters or one
    symbol, with its leading whitespace; roughly 1.1-1.3 pieces per English word, close to what
    cl100k/o200k give."""

    name = "approx"
    _PIECE = re.compile(r"\s*(?:\w{1,5}|[^\w\s])|\s+")

    def pieces(self, text: str) -> list[str]:
        return self._PIECE.findall(text)

    def count(self, text: str) -> int:
        return len(self.pieces(text))

    def chunks(self, text: str, num_tokens: int) -> list[str]:
        _check_size(num_tokens)
        parts = self.pieces(text)
        return ["".join(parts[i : i + num_tokens]) for i in range(0, len(parts), num_tokens)]


class TiktokenTokenizer(Tokenizer):
    """A tiktoken encoding; special-token text such as ``<|endoftext|>`` counts as plain text."""

    def __init__(self, encoding: Any) -> None:
        self._enc = encoding
        self.name = f"tiktoken:{encoding.name}"

    def count(self, text: str) -> int:
        return len(self._enc.encode(text, disallowed_special=()))

    def chunks(self, text: str, num_tokens: int) -> list[str]:
        _check_size(num_tokens)
        tokens = self._enc.encode(text, disallowed_special=())
        # A multi-byte character can span two tokens; the incremental decoder holds its first
        # bytes back for the next chunk instead of emitting U+FFFD as a plain decode would.
        decoder = codecs.getincrementaldecoder("utf-8")()
        out: list[str] = []
        for i in range(0, len(tokens), num_tokens):
            # decode_bytes: one call into tiktoken per chunk (decode_tokens_bytes makes one
            # Python-level call per token: 2x the cost of the whole split at 150 tokens).
            piece = decoder.decode(self._enc.decode_bytes(tokens[i : i + num_tokens]))
            if piece:
                out.append(piece)
        tail = decoder.decode(b"", final=True)
        if tail:
            out.append(tail)
        return out


def _check_size(num_tokens: int) -> None:
    if num_tokens < 1:
        raise ValueError(f"num_tokens must be a positive integer, got {num_tokens}")


def encoding_name(model: str | None) -> str:
    """tiktoken's encoding for ``model`` (provider prefix ignored); ``o200k_base`` if unknown."""
    if not model:
        return DEFAULT_ENCODING
    try:
        import tiktoken
    except ImportError:
        return DEFAULT_ENCODING
    try:
        return tiktoken.encoding_name_for_model(model.split("/")[-1])
    except KeyError:
        return DEFAULT_ENCODING


def cache_dirs() -> list[Path]:
    """Folders that may hold tiktoken BPE files: tiktoken's own cache folders, then the copies
    bundled with litellm (found without importing litellm, which takes seconds)."""
    dirs: list[Path] = []
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(var):
            dirs.append(Path(os.environ[var]))
    dirs.append(Path(tempfile.gettempdir()) / "data-gym-cache")
    try:
        spec = importlib.util.find_spec("litellm")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            dirs.append(Path(loc) / "litellm_core_utils" / "tokenizers")
    return dirs


def find_bpe_file(name: str, dirs: Iterable[Path]) -> Path | None:
    """The verified BPE file for encoding ``name`` in ``dirs``, or None."""
    found = _read_bpe_file(name, dirs)
    return found[0] if found is not None else None


def _read_bpe_file(name: str, dirs: Iterable[Path]) -> tuple[Path, bytes] | None:
    expected = _EXPECTED_SHA256.get(name)
    if expected is None:
        return None
    key = hashlib.sha1(_BLOB_URL.format(name=name).encode()).hexdigest()
    for folder in dirs:
        path = folder / key
        try:
            data = path.read_bytes()
        except OSError:
            continue
        # A file that fails the check would make tiktoken delete it and download a fresh one.
        if hashlib.sha256(data).hexdigest() == expected:
            return path, data
    return None


def parse_bpe(data: bytes, *, sequential: bool = False) -> dict[bytes, int]:
    """The ranks of a verified ``.tiktoken`` file (``<base64 token> <rank>`` lines), as
    tiktoken's ``load_tiktoken_bpe`` parses them, in ~60 % of its time (C-level maps instead of
    a Python loop calling ``base64.b64decode`` per line): ~0.1 s less before a run's first
    request, which waits for the first document's split.

    ``sequential``: the file is known to list ranks 0, 1, 2 ... in order (see
    ``_SEQUENTIAL_RANKS``), so they are counted instead of parsed (~40 ms less for o200k_base).
    """
    parts = data.split()
    if len(parts) % 2:
        raise ValueError("malformed BPE file: odd number of fields")
    ranks: Iterable[int] = range(len(parts) // 2) if sequential else map(int, parts[1::2])
    return dict(zip(map(binascii.a2b_base64, parts[0::2]), ranks, strict=True))


def load_tiktoken(name: str, dirs: Iterable[Path] | None = None) -> TiktokenTokenizer | None:
    """Encoding ``name`` loaded from a verified local file, or None. Never downloads."""
    try:
        import tiktoken
        import tiktoken_ext.openai_public as public
    except ImportError:
        return None
    found = _read_bpe_file(name, cache_dirs() if dirs is None else dirs)
    if found is None:
        return None
    path, data = found
    url = _BLOB_URL.format(name=name)
    original = public.load_tiktoken_bpe

    def load_bpe(blob: str, expected_hash: str | None = None) -> dict[bytes, int]:
        # The file read and verified above, parsed once (tiktoken would read, hash and
        # parse it again); any other file as tiktoken loads it.
        if blob == url:
            return parse_bpe(data, sequential=name in _SEQUENTIAL_RANKS)
        ranks: dict[bytes, int] = original(blob, expected_hash)
        return ranks

    with _env_lock:
        # tiktoken reads its cache folder from the environment at load time only; its
        # encoding constructors look their loader up in their module at call time.
        previous = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = str(path.parent)
        public.load_tiktoken_bpe = load_bpe
        try:
            encoding = tiktoken.get_encoding(name)
        finally:
            public.load_tiktoken_bpe = original
            if previous is None:
                os.environ.pop("TIKTOKEN_CACHE_DIR", None)
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = previous
    return TiktokenTokenizer(encoding)


@lru_cache(maxsize=16)
def get_tokenizer(model: str | None = None) -> Tokenizer:
    """The best offline tokenizer for ``model``: its tiktoken encoding if the file is local,
    else another local tiktoken encoding, else :class:`ApproxTokenizer`."""
    wanted = encoding_name(model)
    for name in dict.fromkeys((wanted, DEFAULT_ENCODING, "cl100k_base")):
        tokenizer = load_tiktoken(name)
        if tokenizer is not None:
            return tokenizer
    return ApproxTokenizer()
