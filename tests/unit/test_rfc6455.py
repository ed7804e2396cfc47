"""`runner.rfc6455`: the close-code and reason rules that the client, language and server share."""

from __future__ import annotations

import pytest

from runner.rfc6455 import (
    MAX_CLOSE_REASON_BYTES,
    MAX_CONTROL_PAYLOAD,
    SENDABLE_CLOSE_CODES,
    close_code_problem,
    close_reason_problem,
    is_sendable_close_code,
)


def test_the_reason_limit_is_a_control_payload_less_its_code() -> None:
    assert (MAX_CONTROL_PAYLOAD, MAX_CLOSE_REASON_BYTES) == (125, 123)


def test_the_sendable_codes_for_people_name_the_ranges_the_function_accepts() -> None:
    sendable = [code for code in range(0, 6000) if is_sendable_close_code(code)]
    ranges = [(1000, 1003), (1007, 1014), (3000, 4999)]
    assert sendable == [code for low, high in ranges for code in range(low, high + 1)]
    assert SENDABLE_CLOSE_CODES == "1000-1003, 1007-1014 or 3000-4999"


@pytest.mark.parametrize("code", [1000, 1003, 1007, 1014, 3000, 4999])
def test_a_sendable_code_has_no_problem(code: int) -> None:
    assert close_code_problem(code) is None


@pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000])
def test_an_unsendable_code_says_which_may_be_sent(code: int) -> None:
    assert close_code_problem(code) == (
        f"close code {code} cannot be sent (use 1000-1003, 1007-1014 or 3000-4999)"
    )


def test_the_reason_limit_counts_utf8_bytes() -> None:
    assert close_reason_problem("é" * 61 + "x") is None  # 123 bytes
    assert close_reason_problem("é" * 62) == "close reason is over 123 UTF-8 bytes (found 124)"


def test_a_reason_with_a_lone_surrogate_cannot_be_sent() -> None:
    assert (
        close_reason_problem("\udc00")
        == "close reason must be valid Unicode, found surrogates not allowed"
    )
