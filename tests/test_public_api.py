"""The public surface is a promise: changing it must be deliberate."""

import llmassert


def test_public_names_are_pinned() -> None:
    assert sorted(llmassert.__all__) == sorted(
        [
            "AssertionSet",
            "AssertionsFailedError",
            "CheckResult",
            "Failure",
            "LlmAssertError",
            "Settings",
            "__version__",
            "guard",
        ]
    )
    for name in llmassert.__all__:
        assert hasattr(llmassert, name), name
