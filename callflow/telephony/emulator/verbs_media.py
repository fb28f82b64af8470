"""What the caller hears and presses: `<Say>`, `<Play>`, `<Pause>`, `<Gather>`, plus the two
verbs that move control, `<Redirect>` and `<Hangup>`.

Point by point, from Twilio's TwiML pages:
- Say (https://www.twilio.com/docs/voice/twiml/say): `voice` (default `man`), `language`
  (default `en`), `loop` (default 1; 0 repeats until interrupted). The emulator times speech at
  `words_per_second` (2.5, about 150 words a minute).
- Play (https://www.twilio.com/docs/voice/twiml/play): `loop`, `digits` (DTMF tones played,
  `w` = half a second). The audio is not downloaded: each loop lasts `play_seconds`.
- Pause (https://www.twilio.com/docs/voice/twiml/pause): `length`, default 1 second.
- Gather (https://www.twilio.com/docs/voice/twiml/gather): `input` (`dtmf` default, `speech`,
  `dtmf speech`), `timeout` (5 s of silence, also between digits), `finishOnKey` (`#`; only ends a
  gather after at least one digit; `""` disables it), `numDigits`, `action` (default: the current
  document's URL), `method` (POST), `actionOnEmptyResult` (false), `bargeIn` (true: input stops
  the nested Say/Play), `language`, `hints`. Nested Say, Play and Pause run first. With input,
  the action is requested with `Digits` (and `FinishedOnKey`) or `SpeechResult` and
  `Confidence`; with none, the gather falls through to the next verb, or requests the action
  (without input parameters) only when `actionOnEmptyResult="true"`.
- Redirect (https://www.twilio.com/docs/voice/twiml/redirect): `method` (POST); verbs after it
  are unreachable. In a queue's waitUrl TwiML it takes the caller out of the queue
  (`QueueResult=redirected-from-waiting-url`, see `verbs_queue.py`).
- Hangup (https://www.twilio.com/docs/voice/twiml/hangup).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from .flow import QUEUE_WAIT, Context, HangupVerb, LeaveQueue, Transfer
from .models import DocumentRequest, GatherState
from .twiml import Document, attr_bool, attr_int, attr_list, attr_method, text_of

if TYPE_CHECKING:
    from .engine import Executor

#: Say/Play `loop="0"` repeats "until the call ends"; the emulator bounds it at this count.
ENDLESS_LOOP = 1000


def perform(
    ex: Executor,
    kind: str,
    seconds: float,
    detail: dict[str, object],
    barge: GatherState | None = None,
) -> None:
    """Let the caller hear something for `seconds`; input to `barge` cuts it short."""
    registry = ex.registry
    ex.redirects_in_a_row = 0
    registry.note(ex.leg, kind, **detail)
    registry.set_activity(ex.leg, {"state": kind, **detail})
    try:
        ex.wait(lambda: True if barge is not None and barge.has_input() else None, seconds)
    finally:
        registry.set_activity(ex.leg, None)


def _loops(element: ET.Element) -> int:
    loops = attr_int(element, "loop", 1)
    if loops is None or loops < 0:
        return 1
    return ENDLESS_LOOP if loops == 0 else loops


def say(ex: Executor, element: ET.Element, document: Document, context: Context) -> Transfer | None:
    _say(ex, element, None)
    return None


def _say(ex: Executor, element: ET.Element, barge: GatherState | None) -> None:
    text = text_of(element)
    loops = _loops(element)
    seconds = max(1.0, len(text.split()) / ex.registry.words_per_second) * loops
    detail: dict[str, object] = {
        "text": text,
        "voice": element.get("voice", "man"),
        "language": element.get("language", "en"),
    }
    if loops != 1:
        detail["loop"] = loops
    perform(ex, "say", seconds, detail, barge)


def play(
    ex: Executor, element: ET.Element, document: Document, context: Context
) -> Transfer | None:
    _play(ex, element, document, None)
    return None


def _play(ex: Executor, element: ET.Element, document: Document, barge: GatherState | None) -> None:
    loops = _loops(element)
    digits = element.get("digits")
    if digits is not None:
        seconds = sum(0.5 if key == "w" else 0.1 for key in digits)
        perform(ex, "play-digits", seconds, {"digits": digits}, barge)
        return
    url = document.resolve(text_of(element))
    detail: dict[str, object] = {"url": url}
    if loops != 1:
        detail["loop"] = loops
    perform(ex, "play", ex.registry.play_seconds * loops, detail, barge)


def pause(
    ex: Executor, element: ET.Element, document: Document, context: Context
) -> Transfer | None:
    _pause(ex, element, None)
    return None


def _pause(ex: Executor, element: ET.Element, barge: GatherState | None) -> None:
    length = attr_int(element, "length", 1)
    seconds = float(length if length is not None and length >= 0 else 1)
    perform(ex, "pause", seconds, {"seconds": seconds}, barge)


def redirect(
    ex: Executor, element: ET.Element, document: Document, context: Context
) -> Transfer | None:
    request = DocumentRequest(
        document.resolve(text_of(element)), attr_method(element, "method"), purpose="redirect"
    )
    ex.registry.note(ex.leg, "redirect", url=request.url)
    if context is QUEUE_WAIT:
        raise LeaveQueue("redirected-from-waiting-url", then=request)
    ex.count_redirect()
    return Transfer(request)


def hangup(
    ex: Executor, element: ET.Element, document: Document, context: Context
) -> Transfer | None:
    raise HangupVerb()


def gather(
    ex: Executor, element: ET.Element, document: Document, context: Context
) -> Transfer | None:
    registry, leg = ex.registry, ex.leg
    inputs = attr_list(element, "input") or frozenset({"dtmf"})
    num_digits = attr_int(element, "numDigits", None)
    state = GatherState(
        inputs=inputs,
        num_digits=num_digits if num_digits is not None and num_digits > 0 else None,
        finish_on_key=element.get("finishOnKey", "#")[:1],
    )
    timeout = attr_int(element, "timeout", 5)
    silence = float(timeout if timeout is not None and timeout >= 0 else 5)
    barge_in = attr_bool(element, "bargeIn", True)
    action_ref = element.get("action")
    action_url = document.resolve(action_ref) if action_ref else document.url
    with registry.lock:
        leg.gathering = state
        registry.touch()
    registry.note(
        leg,
        "gather",
        input=" ".join(sorted(inputs)),
        num_digits=state.num_digits,
        timeout=silence,
        language=element.get("language"),
    )
    try:
        _prompt(ex, element, document, state if barge_in else None)
        _collect(ex, state, silence)
    finally:
        with registry.lock:
            state.complete = True
            leg.gathering = None
            registry.touch()
    params = _result_params(state)
    registry.note(leg, "gather-result", **{k.lower(): v for k, v in params.items()})
    if not state.has_input() and not attr_bool(element, "actionOnEmptyResult", False):
        return None
    if action_url is None:
        return None  # inline TwiML has no document URL to send the result to
    return ex.action(action_url, attr_method(element, "method"), params, purpose="gather")


def _prompt(
    ex: Executor, element: ET.Element, document: Document, barge: GatherState | None
) -> None:
    """The nested Say, Play and Pause, until the caller barges in."""
    for child in element:
        if barge is not None and barge.has_input():
            return
        if child.tag == "Say":
            _say(ex, child, barge)
        elif child.tag == "Play":
            _play(ex, child, document, barge)
        elif child.tag == "Pause":
            _pause(ex, child, barge)
        else:
            ex.registry.note(ex.leg, "warning", detail=f"<{child.tag}> cannot be nested in Gather")


def _collect(ex: Executor, state: GatherState, silence: float) -> None:
    """Wait for the input to finish: complete, or `silence` seconds without a new key."""
    registry = ex.registry
    prompt_end = registry.offset()
    while True:
        with registry.lock:
            if state.complete:
                return
            seen = state.last_input_offset
            anchor = max(prompt_end, seen if seen is not None else prompt_end)
        remaining = anchor + silence - registry.offset()
        if remaining <= 0:
            return

        def moved(seen: float | None = seen) -> bool | None:
            return True if state.complete or state.last_input_offset != seen else None

        ex.wait(moved, remaining)


def _result_params(state: GatherState) -> dict[str, str]:
    params: dict[str, str] = {}
    if state.speech is not None:
        params["SpeechResult"] = state.speech
        params["Confidence"] = f"{state.confidence if state.confidence is not None else 0.9:.2f}"
    elif state.digits:
        params["Digits"] = state.digits
        if state.finished_on_key:
            params["FinishedOnKey"] = state.finished_on_key
    return params
