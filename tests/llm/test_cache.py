"""The content-addressed disk cache, through the client and on its own."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from llmassert.config import Settings
from llmassert.errors import InputError, LLMOutputError, LLMTransportError
from llmassert.llm import LLMRequest
from llmassert.llm.cache import DiskCache, request_key
from llmassert.llm.managed_client import Client, build_client
from llmassert.testing.fake_server import FakeLLMServer, Reply

from .conftest import SCHEMA, user


def req(text: str = "summarize", **kw: object) -> LLMRequest:
    return LLMRequest(model="openai/fake-model", messages=user(text), **kw)


def test_cache_hit_makes_zero_requests(client: Client, llm_server: FakeLLMServer) -> None:
    first = client.complete(req(output_schema=SCHEMA))
    assert not first.cached and llm_server.stats.requests == 1
    again = client.complete(req(output_schema=SCHEMA))
    assert again.cached and again.data == first.data and again.text == first.text
    assert again.usage.requests == 0 and again.usage.cost == 0
    assert llm_server.stats.requests == 1
    # A fresh client on the same folder (a later run) hits too.
    fresh = build_client(client.settings)
    assert fresh.complete(req(output_schema=SCHEMA)).cached
    assert llm_server.stats.requests == 1
    assert fresh.summary().cache_hits == 1


def test_key_includes_salt_and_params_but_not_tag() -> None:
    base = req()
    assert request_key(base) == request_key(req(tag="judge"))
    assert request_key(base) == request_key(req(use_cache=False))
    assert request_key(base) != request_key(req(salt="glean-1"))
    assert request_key(base) != request_key(req(params={"top_p": 0.5}))
    assert request_key(base) != request_key(req(max_tokens=10))
    assert request_key(base) != request_key(req(output_schema=SCHEMA))
    assert request_key(req(output_schema=SCHEMA)) != request_key(
        req(output_schema=SCHEMA, schema_name="other")
    )


def test_salt_keeps_gleaning_rounds_apart(client: Client, llm_server: FakeLLMServer) -> None:
    client.complete(req(salt="round-1"))
    client.complete(req(salt="round-2"))
    assert llm_server.stats.requests == 2


def test_errors_are_never_cached(llm_settings: Settings, llm_server: FakeLLMServer) -> None:
    client = build_client(llm_settings.replace(max_retries=0, max_reasks=0))
    llm_server.script(Reply(status=500))
    with pytest.raises(LLMTransportError):
        client.complete(req())
    llm_server.script(Reply(tool_args="{broken"))
    with pytest.raises(LLMOutputError):
        client.complete(req(output_schema=SCHEMA))
    assert DiskCache(llm_settings.cache_dir).stats()[0] == 0  # type: ignore[arg-type]
    # Both calls are made again next time, and now succeed (and are cached).
    client.complete(req())
    client.complete(req(output_schema=SCHEMA))
    assert llm_server.stats.requests == 4
    assert DiskCache(llm_settings.cache_dir).stats()[0] == 2  # type: ignore[arg-type]


def test_use_cache_false_bypasses(client: Client, llm_server: FakeLLMServer) -> None:
    client.complete(req(use_cache=False))
    client.complete(req(use_cache=False))
    assert llm_server.stats.requests == 2
    assert DiskCache(client.settings.cache_dir).stats()[0] == 0  # type: ignore[arg-type]


def test_no_cache_dir_disables_cache(llm_settings: Settings, llm_server: FakeLLMServer) -> None:
    client = build_client(llm_settings.replace(cache_dir=None))
    client.complete(req())
    client.complete(req())
    assert llm_server.stats.requests == 2


def test_embeddings_are_cached_per_text(client: Client, llm_server: FakeLLMServer) -> None:
    first = client.embed(["alpha beta", "gamma", "alpha beta"])
    assert len(first) == 3 and first[0] == first[2] and len(first[0]) == 64
    assert llm_server.requests[-1].body["input"] == ["alpha beta", "gamma"]
    second = asyncio.run(client.aembed(["gamma", "delta"]))
    assert second[0] == first[1]
    assert llm_server.requests[-1].body["input"] == ["delta"]
    client.embed(["delta", "gamma"])
    assert llm_server.stats.requests == 2


def test_disk_cache_layout_atomicity_and_clear(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "c")
    key = "ab" + "0" * 62
    assert cache.get(key) is None
    cache.put(key, {"text": "hi"})
    assert (tmp_path / "c" / "ab" / f"{key}.json").is_file()
    assert cache.get(key) == {"text": "hi"}
    assert sorted(p.name for p in (tmp_path / "c").rglob("*")) == [
        "CACHEDIR.TAG",
        "ab",
        key + ".json",
    ]
    # A corrupt entry (e.g. a disk that filled up) is a miss, not a crash; clear cannot prove
    # it wrote that file, so it stays.
    other = "cd" + "1" * 62
    (tmp_path / "c" / "cd").mkdir()
    (tmp_path / "c" / "cd" / f"{other}.json").write_text("{trunc")
    assert cache.get(other) is None
    count, size = cache.stats()
    assert count == 1 and size > 0
    assert cache.clear() == 1 and cache.stats() == (0, 0)
    assert (tmp_path / "c" / "cd" / f"{other}.json").read_text() == "{trunc"
    assert not (tmp_path / "c" / "ab").exists()
    assert DiskCache(tmp_path / "missing").clear() == 0


def test_clear_refuses_a_folder_llmassert_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "ui").mkdir()
    (tmp_path / "ui" / "package.json").write_text("{}")
    with pytest.raises(InputError, match="not an llmassert cache"):
        DiskCache(tmp_path).clear()
    assert (tmp_path / "ui" / "package.json").read_text() == "{}"
    assert DiskCache(tmp_path / "empty").clear() == 0


def test_cached_entries_hold_results_not_requests(client: Client) -> None:
    client.complete(req("a prompt", output_schema=SCHEMA))
    files = list(Path(client.settings.cache_dir).rglob("*.json"))  # type: ignore[arg-type]
    entry = json.loads(files[0].read_text())
    assert entry["key"] == files[0].stem and entry["llmassert_cache"] == 1
    assert set(entry["value"]) == {"model", "text", "data", "reasks", "usage"}


def test_unwritable_cache_warns_and_the_call_still_succeeds(
    llm_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    client = build_client(llm_settings.replace(cache_dir=blocker))
    assert client.complete(req("one")).text
    assert client.complete(req("two")).text
    warnings = [r for r in caplog.records if "cannot write the LLM cache" in r.getMessage()]
    assert len(warnings) == 1
