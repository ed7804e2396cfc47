"""Auto-replies: `reply` rules compiled for one connection, answered on its thread.

A rule's `when` is rendered and compiled when its connection opens; its `send` is rendered for
each reply, with what `when` saved on top of the scenario's variables (seen by that reply only).
What `send` refers to is checked at connect, so that a reply cannot fail for an unknown name.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from runner.errors import Location, ScenarioError
from runner.matching import Matcher, compile_matcher, extract_saves
from runner.scenario.fields import RENDERED
from runner.scenario.matchers import regex_groups
from runner.scenario.replies import ReplyRule, ReplySend, ReplyWhen
from runner.scenario.templates import TemplateSyntaxError, references, render, variables_used

__all__ = ["AutoReply", "compile_replies"]


@dataclass(frozen=True)
class AutoReply:
    """One compiled rule: what it answers, and how to build the answer."""

    matcher: Matcher
    save: Mapping[str, str]
    send: ReplySend
    variables: Mapping[str, Any]
    location: Location

    def answer(self, data: str | bytes) -> str | bytes | None:
        """The reply to `data`, or None when the rule does not match it.

        Raises:
            ExecutionError: a `save` finds nothing in the message.
            ScenarioError: `send` does not render (an unset environment variable).
        """
        result = self.matcher.match(data)
        if not result.ok:
            return None
        saved = extract_saves(self.save, data, result.captures, self.location)
        scope = ChainMap(saved, dict(result.captures), dict(self.variables))
        return _payload(self.send, scope, self.location)


def compile_replies(
    rules: list[ReplyRule], variables: Mapping[str, Any], where: Location
) -> list[AutoReply]:
    """Render and compile `rules` (errors point at `where`, the connect step).

    Raises:
        ScenarioError: a rule does not render, or its `send` names a variable that neither the
            scenario nor the rule's `when` provides.
    """
    return [_compile(rule, index, variables, where) for index, rule in enumerate(rules)]


def _compile(
    rule: ReplyRule, index: int, variables: Mapping[str, Any], where: Location
) -> AutoReply:
    when = _rendered_when(rule.when, index, variables, where)
    send = (
        rule.send
        if isinstance(rule.send, ReplySend)
        else ReplySend.model_validate({"text": rule.send})
    )
    known = set(variables) | set(when.save) | set(regex_groups(when.regex))
    _check_names(send, index, known, where)
    return AutoReply(compile_matcher(when), dict(when.save), send, variables, where)


def _rendered_when(
    when: ReplyWhen, index: int, variables: Mapping[str, Any], where: Location
) -> ReplyWhen:
    values = when.model_dump(by_alias=True, exclude_unset=True)
    save = values.pop("save", {})  # save sources are paths and group names, not templates
    rendered = render(values, variables, where)
    try:
        return ReplyWhen.model_validate({**rendered, "save": save}, strict=False, context=RENDERED)
    except ValidationError as error:
        problem = "; ".join(e["msg"] for e in error.errors(include_url=False))
        raise ScenarioError(f"reply {index}: {problem.lower()} once rendered", where) from None


def _check_names(send: ReplySend, index: int, known: set[str], where: Location) -> None:
    try:
        used = {n for r in references(_written(send)) for n in variables_used(r)}
    except TemplateSyntaxError as error:
        raise ScenarioError(f"reply {index}: {error}", where) from None
    unknown = sorted(used - known)
    if unknown:
        raise ScenarioError(
            f"reply {index}: send uses unknown variable {unknown[0]!r} (neither the "
            "scenario's nor saved by its when)",
            where,
        )


def _written(send: ReplySend) -> Any:
    if send.text is not None:
        return send.text
    if send.binary is not None:
        return send.binary.model_dump(exclude_none=True)
    return send.json_


def _payload(send: ReplySend, scope: Mapping[str, Any], where: Location) -> str | bytes:
    rendered = render(_written(send), scope, where)
    if send.text is not None:
        return str(rendered)
    key = "binary" if send.binary is not None else "json"
    return ReplySend.model_validate({key: rendered}, strict=False, context=RENDERED).payload()
