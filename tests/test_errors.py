from llmassert.errors import (
    EXIT_ASSERTIONS_FAILED,
    EXIT_BUDGET,
    AssertionsFailedError,
    BudgetExceededError,
    HistoryError,
    InputError,
    LlmAssertError,
)


def test_error_names_file_and_field_on_one_line() -> None:
    err = HistoryError("no versions\nfound", file="prompts/x", field="versions")
    assert str(err) == "prompts/x: versions: no versions found"
    assert isinstance(err, InputError) and isinstance(err, LlmAssertError)


def test_exit_codes_distinguish_failures_from_errors() -> None:
    assert AssertionsFailedError("x").exit_code == EXIT_ASSERTIONS_FAILED
    assert BudgetExceededError("x").exit_code == EXIT_BUDGET
    assert HistoryError("x").exit_code == 2
