"""Judging bot chat (streamed, polled, websocket): the local-plugin loop, from what the SDK observed.

The same three chats in every mode: the weather bot (two tools in one round), the research bot (two
rounds) and the weather bot with a failing tool. The probes that run them: harness/probes/chat.py, websocket.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..drivers import Observation
from ..matrix import Capability, Verdict
from ..recorder import Exchange
from ._cells import (
    COMPLETED,
    REQUIRES_ACTION,
    Verdicts,
    dumps,
    first_error,
    offers_tool_calls,
    result_field,
)

SUBMIT = "chat.submitToolOutputs"
NOT_APPLICABLE = (Verdict.NOT_APPLICABLE, "bot chat has no interrupts; tool calls are its pause.")


@dataclass
class ChatRun:
    """One chat as the SDK ran it, with the outputs the local code gave for its tool calls."""

    observation: Observation
    outputs: list[str] = field(default_factory=list)

    @property
    def rounds(self) -> list[list[str]]:
        return [[call.name for call in calls] for calls in self.observation.tool_rounds]

    @property
    def status(self) -> str:
        status = result_field(self.observation, "status")
        return status if isinstance(status, str) else ""

    @property
    def error(self) -> str | None:
        return first_error(self.observation)

    @property
    def saw_tool_event(self) -> bool:
        """The caller learnt that the chat paused for tools: the event, a round of calls, or (polled) a Chat the
        SDK returned with status requires_action."""
        if REQUIRES_ACTION in self.observation.event_names() or self.observation.tool_rounds:
            return True
        for call in self.observation.calls:
            value = call.value.get("chat", call.value) if isinstance(call.value, dict) else None
            if isinstance(value, dict) and value.get("status") == "requires_action":
                return True
        return False

    def quotes_outputs(self) -> bool:
        answer = self.observation.answer
        return self.status == "completed" and bool(self.outputs) and all(output in answer for output in self.outputs)

    def summary(self) -> str:
        return dumps(
            {"rounds": self.rounds, "status": self.status, "answer": self.observation.answer, "error": self.error}
        )


def platform_without_tool_path(status: str, submit: tuple[Verdict, str]) -> Verdicts:
    """Every tool cell when the server never offered a tool call: the platform has no such path (`status`: how
    the chat ended; `submit`: the verdict on how the server answered the SDK's submit)."""
    paused = f" (the chat ended {status!r})" if status else ""
    none = (
        Verdict.ABSENT,
        "the server never sent a tool call: no conversation.chat.requires_action and no required_action object "
        f"in any response, read as raw bytes{paused}.",
    )
    verdicts: Verdicts = dict.fromkeys(
        (
            Capability.TOOL_CALL_EVENT,
            Capability.TOOL_CALL_FIELDS,
            Capability.OUTPUTS_IN_ANSWER,
            Capability.CALLS_PER_ROUND,
            Capability.ROUNDS,
            Capability.TOOL_ERRORS,
            Capability.LOCAL_CODE,
        ),
        none,
    )
    verdicts[Capability.SUBMIT_METHOD] = submit
    verdicts[Capability.INTERRUPT_RESUME] = NOT_APPLICABLE
    return verdicts


def absent_on_platform(single: ChatRun, submit: Observation | None, sdk: str) -> Verdicts:
    """`platform_without_tool_path`, `submit` being the SDK's submit call on a chat the server paused without
    tool calls (None: the SDK has no such method)."""
    if submit is None:
        return platform_without_tool_path(
            single.status, (Verdict.ABSENT, f"{sdk} has no {SUBMIT}, and the server no tool call.")
        )
    refused = submit.errors[0] if submit.errors else None
    answer = first_error(submit) or f"accepted ({dumps(submit.result)})"
    return platform_without_tool_path(
        single.status,
        (
            Verdict.ABSENT if refused is not None and 404 in (refused.status, refused.code) else Verdict.BROKEN,
            f"{sdk} has {SUBMIT}; the server answered it with: {answer}.",
        ),
    )


def judge_chat(
    single: ChatRun,
    chain: ChatRun,
    failing: ChatRun,
    how: str,
    has_submit: bool,
    submit_name: str = SUBMIT,
) -> Verdicts:
    """The local-plugin loop's cells from three chats that ran (`how`: streamed, polled, over a websocket);
    `submit_name` is the SDK's name for its submit method, which `has_submit` says it has."""

    def ran(run: ChatRun, what: str) -> tuple[Verdict, str]:
        if run.quotes_outputs():
            return Verdict.SUPPORTED, f"{what}: the answer quotes every tool output ({how})."
        return Verdict.BROKEN, f"{what} failed: {run.error or f'the chat ended {run.status!r} without the outputs'}."

    if single.saw_tool_event:
        event = (Verdict.SUPPORTED, "the SDK delivered conversation.chat.requires_action to the caller.")
    else:
        event = (Verdict.BROKEN, f"no requires_action reached the caller: {single.error or single.status}.")
    if single.rounds and single.rounds[0]:
        fields = (Verdict.SUPPORTED, f"read {len(single.rounds[0])} calls with id, function.name and arguments.")
    elif chat_lacks_required_action(single):
        fields = (Verdict.ABSENT, "the SDK's Chat has no required_action field: the tool calls are dropped on parse.")
    else:
        fields = (Verdict.BROKEN, f"the tool calls could not be read: {single.error}.")
    if not has_submit:
        submit = (Verdict.ABSENT, f"this SDK has no {submit_name}.")
    elif single.status == "completed" and single.rounds:
        submit = (Verdict.SUPPORTED, f"{submit_name} exists and the continuation completed.")
    else:
        submit = (Verdict.BROKEN, f"{submit_name} exists but the flow did not get there: {single.error}.")
    outputs = ran(single, "weather-bot")
    two_calls = bool(single.rounds) and len(single.rounds[0]) > 1
    per_round = (
        ran(single, "two calls answered in one submit")
        if two_calls
        else (Verdict.BROKEN, f"no round with two calls completed: {single.error or single.status}.")
    )
    rounds = (
        ran(chain, "research-bot, two rounds")
        if len(chain.rounds) == 2
        else (Verdict.BROKEN, f"expected two rounds, saw {chain.rounds}: {chain.error or chain.status}.")
    )
    reported = any('"error"' in output for output in failing.outputs)
    if failing.quotes_outputs() and reported:
        errors = (Verdict.SUPPORTED, "a tool that raised produced a JSON error output, and the answer quotes it.")
    else:
        errors = (Verdict.BROKEN, f"the tool error did not travel back: {failing.error or failing.status}.")
    if outputs[0] is Verdict.SUPPORTED:
        local = (Verdict.SUPPORTED, "local functions ran on requires_action and their outputs reached the answer.")
    else:
        local = outputs
    return {
        Capability.TOOL_CALL_EVENT: event,
        Capability.TOOL_CALL_FIELDS: fields,
        Capability.SUBMIT_METHOD: submit,
        Capability.OUTPUTS_IN_ANSWER: outputs,
        Capability.CALLS_PER_ROUND: per_round,
        Capability.ROUNDS: rounds,
        Capability.TOOL_ERRORS: errors,
        Capability.INTERRUPT_RESUME: NOT_APPLICABLE,
        Capability.LOCAL_CODE: local,
    }


def chat_lacks_required_action(run: ChatRun) -> bool:
    """The SDK's types say its Chat has no required_action field (only a typed SDK's driver can say so)."""
    return run.observation.fields.get("Chat.required_action") is False


def lacks_tool_path(exchanges: list[Exchange], default_platform: bool) -> bool:
    """Only a platform other than the default (cloud) may lack the path: on cloud, no tool call on the wire
    is a failure of the flow, judged as such."""
    return not default_platform and not offers_tool_calls(exchanges)


def absent_sdk_method(method: str, sdk: str, pauses: bool = False) -> Verdicts:
    """Every cell of a mode whose SDK call does not exist in this release (`pauses`: the mode has interrupts,
    so interrupt-resume is absent too, not inapplicable)."""
    absent = (Verdict.ABSENT, f"this {sdk} release has no {method}.")
    verdicts: Verdicts = dict.fromkeys(Capability, absent)
    if not pauses:
        verdicts[Capability.INTERRUPT_RESUME] = NOT_APPLICABLE
    return verdicts


def completed(observation: Observation) -> bool:
    return COMPLETED in observation.event_names()
