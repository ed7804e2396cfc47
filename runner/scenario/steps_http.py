"""The `http` step: one HTTP request (httpx), its expectations, and what it saves.

Defined on the bases of `steps.py`, which imports this module before it builds the union. Its
`expect` holds every matcher of the language (`MatcherFields`) for the body, with `status` and
`headers`; its `tls` and `proxy` are those of `connect`.
"""

from typing import Any, ClassVar, Literal, Self

from pydantic import Field, field_validator, model_validator

from runner.matching import check_expected
from runner.scenario.fields import TemplatedBool, TemplatedDuration
from runner.scenario.kinds import StepModel
from runner.scenario.matchers import BinaryData, MatcherFields, regex_groups
from runner.scenario.steps import Proxy, TlsOptions, _check_save

__all__ = ["HTTP_METHODS", "HttpExpect", "HttpStep"]

#: The methods an `http` step sends.
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_BODIES = ("json", "text", "form", "binary")


class HttpExpect(MatcherFields):
    """What the response must be: its status, headers, and body (every matcher of `expect`)."""

    status: int | list[int] | None = Field(
        None,
        description="the status, or a list of the statuses allowed (default: any 2xx)",
    )
    headers: dict[str, Any] = Field(
        default_factory=dict,
        description="response headers it must have: name (any case) → value, compared like "
        '`json` (placeholders such as "{{regex:json}}")',
    )

    @field_validator("status")
    @classmethod
    def _statuses(cls, value: int | list[int] | None) -> int | list[int] | None:
        codes = value if isinstance(value, list) else [] if value is None else [value]
        for code in codes:
            if not 100 <= code <= 599:
                raise ValueError(f"expected an HTTP status from 100 to 599, found {code}")
        if isinstance(value, list) and not value:
            raise ValueError("expected at least one status in the list")
        return value

    @field_validator("headers")
    @classmethod
    def _header_values(cls, value: dict[str, Any]) -> dict[str, Any]:
        for expected in value.values():
            check_expected(expected)
        return value

    def allowed(self) -> list[int] | None:
        """The statuses allowed, or None for any 2xx."""
        if self.status is None:
            return None
        return self.status if isinstance(self.status, list) else [self.status]


class HttpStep(StepModel):
    """Send one HTTP request and check its response; cookies go in the scenario's jar, which
    `connect` shares."""

    shorthand = "url"
    shorthand_schema: ClassVar[dict[str, Any]] = {
        "type": "string",
        "description": "the URL of a GET",
    }
    waits = True
    kind: Literal["http"] = Field("http", description="the step's kind")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = Field(
        "GET", description="the request's method"
    )
    url: str = Field(description="an http:// or https:// URL")
    headers: dict[str, str] = Field(default_factory=dict, description="request headers")
    json_: Any = Field(
        None, alias="json", description="a JSON body (Content-Type: application/json)"
    )
    text: str | None = Field(None, description="a text body (UTF-8)")
    form: dict[str, str] | None = Field(
        None, description="a form body (application/x-www-form-urlencoded)"
    )
    binary: BinaryData | None = Field(None, description="a binary body: {hex} or {base64}")
    timeout: TemplatedDuration | None = Field(
        None, description="how long the request may take (default: the scenario's timeout)"
    )
    tls: TlsOptions | None = Field(None, description="TLS settings for https:// URLs")
    proxy: Proxy = "system"
    follow_redirects: TemplatedBool = Field(
        False, description="follow 3xx answers (off: a redirect is the response checked)"
    )
    expect: HttpExpect | None = Field(
        None, description="what the response must be (default: a 2xx status)"
    )
    save: dict[str, str] = Field(
        default_factory=dict,
        description="variables to save from the response's body: name → JSONPath (starting "
        "with $), or the name of a named group of `expect.regex`",
    )

    def saved_variables(self) -> set[str]:
        """The `save` names and the named groups of `expect.regex`."""
        regex = self.expect.regex if self.expect is not None else None
        return {*self.save, *regex_groups(regex)}

    def body_kind(self) -> str | None:
        """Which body is written (json, text, form, binary), if any."""
        written = [name for name in _BODIES if _field(name) in self.model_fields_set]
        return written[0] if written else None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if not value.startswith("${") and scheme not in ("http", "https"):
            raise ValueError(f"expected an http:// or https:// URL, found {value!r}")
        return value

    @model_validator(mode="after")
    def _one_body_and_saves(self) -> Self:
        written = [name for name in _BODIES if _field(name) in self.model_fields_set]
        if len(written) > 1:
            raise ValueError(f"expected at most one body (json, text, form, binary), found "
                             f"{', '.join(written)}")  # fmt: skip
        regex = self.expect.regex if self.expect is not None else None
        for name, source in self.save.items():
            _check_save(name, source, regex)
        return self


def _field(name: str) -> str:
    return "json_" if name == "json" else name
