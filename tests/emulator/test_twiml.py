"""TwiML as Twilio's pages describe it: Gather, Say/Pause timing, Redirect, Hangup, Reject,
relative URLs, fallback on errors, status callbacks."""

from __future__ import annotations

import time

from flask import Response

from callflow.telephony.emulator import BackgroundServer, RunningEmulator, start_emulator
from callflow.telephony.emulator.engine import APPLICATION_ERROR_MESSAGE, MAX_REDIRECTS_IN_A_ROW

from .helpers import CALLER, TIME_SCALE, Customer, ended, kinds, said, wait_call


def gathering(view: dict) -> bool:
    return view["gathering"] is not None


def test_first_request_and_status_callback(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    customer.twiml(
        "/voice", '<Say language="fr-FR" voice="Polly.Lea">Bonjour</Say><Pause length="3"/>'
    )
    sid = emulator.state.place_call(CALLER, number)
    view = wait_call(emulator, sid, ended)
    first = customer.wait_for("/voice")[0].params
    assert first["CallSid"] == sid and first["CallStatus"] == "ringing"
    assert (first["From"], first["To"], first["Caller"], first["Called"]) == (
        CALLER,
        number,
        CALLER,
        number,
    )
    assert first["Direction"] == "inbound" and first["ApiVersion"] == "2010-04-01"
    assert first["AccountSid"] == emulator.account_sid
    status = customer.wait_for("/status")[0].params
    assert status["CallStatus"] == "completed"
    assert int(status["CallDuration"]) >= 4  # 1 s of speech and a 3 s pause, emulated
    say = view["transcript"][0]
    assert (say["kind"], say["text"], say["language"], say["voice"]) == (
        "say",
        "Bonjour",
        "fr-FR",
        "Polly.Lea",
    )
    assert view["status"] == "completed" and view["duration"] >= 4


def test_gather_digits_go_to_the_action(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    customer.twiml(
        "/voice",
        '<Gather numDigits="1" action="/menu" timeout="60"><Say>Tapez 1</Say></Gather>'
        "<Say>Pas de choix</Say>",
    )
    customer.twiml("/menu", "<Say>Merci</Say>")
    sid = emulator.state.place_call(CALLER, number)
    assert emulator.state.send_input(sid, digits="1")
    view = wait_call(emulator, sid, ended)
    menu = customer.wait_for("/menu")[0].params
    assert menu["Digits"] == "1"
    assert menu["CallStatus"] == "in-progress"
    assert said(view) == ["Tapez 1", "Merci"]


def test_finish_on_key_and_several_digits(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    customer.twiml("/voice", '<Gather action="/code" timeout="60"/>')
    sid = emulator.state.place_call(CALLER, number)
    assert emulator.state.send_input(sid, digits="75012#")
    params = customer.wait_for("/code")[0].params
    assert params["Digits"] == "75012"
    assert params["FinishedOnKey"] == "#"
    wait_call(emulator, sid, ended)


def test_gather_timeout_falls_through_without_requesting_the_action(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    customer.twiml(
        "/voice",
        '<Gather action="/menu" timeout="3"><Say>Tapez 1</Say></Gather><Say>Au revoir</Say>',
    )
    sid = emulator.state.place_call(CALLER, number)
    view = wait_call(emulator, sid, ended)
    assert said(view) == ["Tapez 1", "Au revoir"]
    assert customer.received("/menu") == []


def test_action_on_empty_result(emulator: RunningEmulator, customer: Customer, number: str) -> None:
    customer.twiml(
        "/voice",
        '<Gather action="/menu" timeout="2" actionOnEmptyResult="true"/><Say>Jamais</Say>',
    )
    customer.twiml("/menu", "<Say>Relance</Say>")
    sid = emulator.state.place_call(CALLER, number)
    view = wait_call(emulator, sid, ended)
    params = customer.wait_for("/menu")[0].params
    assert "Digits" not in params
    assert said(view) == ["Relance"]


def test_default_action_is_the_current_document(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    def voice(params: dict[str, str]) -> str:
        if params.get("Digits") == "2":
            return "<Response><Say>Choix 2</Say></Response>"
        return '<Response><Gather numDigits="1" timeout="60"/></Response>'

    customer.twiml("/voice", voice)
    sid = emulator.state.place_call(CALLER, number)
    assert emulator.state.send_input(sid, digits="2")
    view = wait_call(emulator, sid, ended)
    requests = customer.wait_for("/voice", 2)
    assert requests[1].params["Digits"] == "2"
    assert said(view) == ["Choix 2"]


def test_speech_input(emulator: RunningEmulator, customer: Customer, number: str) -> None:
    customer.twiml(
        "/voice", '<Gather input="speech" language="fr-FR" action="/said" timeout="60"/>'
    )
    sid = emulator.state.place_call(CALLER, number)
    assert not emulator.state.send_input(sid, digits="1", wait=0.5)
    assert emulator.state.send_input(sid, speech="il ne respire plus", confidence=0.8)
    params = customer.wait_for("/said")[0].params
    assert params["SpeechResult"] == "il ne respire plus"
    assert params["Confidence"] == "0.80"
    wait_call(emulator, sid, ended)


def test_input_outside_a_gather_is_lost(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    customer.twiml("/voice", '<Pause length="30"/>')
    sid = emulator.state.place_call(CALLER, number)
    assert not emulator.state.send_input(sid, digits="1", wait=0.05)
    emulator.state.hang_up(sid)


def test_relative_urls_resolve_against_the_document(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    customer.twiml("/voice", "<Redirect>ivr/start</Redirect>")
    customer.twiml("/ivr/start", '<Redirect method="GET">../ivr/next?step=2</Redirect>')
    customer.twiml("/ivr/next", "<Say>Suite</Say>")
    sid = emulator.state.place_call(CALLER, number)
    view = wait_call(emulator, sid, ended)
    assert said(view) == ["Suite"]
    nxt = customer.wait_for("/ivr/next")[0]
    assert nxt.method == "GET"
    assert nxt.params["step"] == "2" and nxt.params["CallSid"] == sid


def test_redirect_loops_are_bounded(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    customer.twiml("/voice", "<Redirect>/voice</Redirect>")
    sid = emulator.state.place_call(CALLER, number)
    view = wait_call(emulator, sid, ended, timeout=10)
    assert len(customer.received("/voice")) == MAX_REDIRECTS_IN_A_ROW + 1
    assert view["heard_application_error"]
    assert said(view) == [APPLICATION_ERROR_MESSAGE]


def test_a_loop_with_something_heard_is_not_a_redirect_loop(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    def voice(params: dict[str, str]) -> str:
        if len(customer.received("/voice")) > MAX_REDIRECTS_IN_A_ROW + 5:
            return "<Response><Hangup/></Response>"
        return '<Response><Pause length="1"/><Redirect>/voice</Redirect></Response>'

    customer.twiml("/voice", voice)
    sid = emulator.state.place_call(CALLER, number)
    view = wait_call(emulator, sid, ended, timeout=15)
    assert not view["heard_application_error"]
    assert view["transcript"][-1]["kind"] == "hangup"


def test_malformed_twiml_requests_the_fallback_url(
    emulator: RunningEmulator, customer: Customer
) -> None:
    emulator.state.configure_number(
        "+33199000016",
        customer.url("/broken"),
        fallback_url=customer.url("/fallback"),
        status_callback=customer.url("/status"),
    )
    customer.twiml("/broken", lambda params: "<Response><Say>oops</Response>")
    customer.twiml("/fallback", "<Say>Secours</Say>")
    sid = emulator.state.place_call(CALLER, "+33199000016")
    view = wait_call(emulator, sid, ended)
    fallback = customer.wait_for("/fallback")[0].params
    assert fallback["ErrorCode"] == "12100"
    assert fallback["ErrorUrl"] == customer.url("/broken")
    assert said(view) == ["Secours"]
    assert not view["heard_application_error"]


def test_http_error_then_failing_fallback_is_an_application_error(
    emulator: RunningEmulator, customer: Customer
) -> None:
    emulator.state.configure_number(
        "+33199000016", customer.url("/down"), fallback_url=customer.url("/also-down")
    )
    customer.twiml("/down", lambda params: ("boom", 500))
    customer.twiml("/also-down", lambda params: ("boom", 503))
    sid = emulator.state.place_call(CALLER, "+33199000016")
    view = wait_call(emulator, sid, ended)
    assert customer.wait_for("/also-down")[0].params["ErrorCode"] == "11200"
    assert view["heard_application_error"]
    assert "application-error" in kinds(view)
    assert said(view) == [APPLICATION_ERROR_MESSAGE]


def test_root_must_be_response(emulator: RunningEmulator, customer: Customer, number: str) -> None:
    customer.twiml("/voice", lambda params: "<Reponse><Say>x</Say></Reponse>")
    sid = emulator.state.place_call(CALLER, number)
    view = wait_call(emulator, sid, ended)
    errors = [e for e in view["transcript"] if e["kind"] == "error"]
    assert errors[0]["error_code"] == 12102
    assert view["heard_application_error"]


def test_unsupported_verb_stops_the_call_loudly(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    customer.twiml("/voice", "<Record/>")
    sid = emulator.state.place_call(CALLER, number)
    view = wait_call(emulator, sid, ended)
    assert "unsupported-verb" in kinds(view)
    assert view["heard_application_error"]


def test_reject_as_first_verb_leaves_the_call_unanswered(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    customer.twiml("/voice", '<Reject reason="busy"/>')
    sid = emulator.state.place_call(CALLER, number)
    view = wait_call(emulator, sid, ended)
    assert view["status"] == "busy" and view["start_time"] is None
    status = customer.wait_for("/status")[0].params
    assert status["CallStatus"] == "busy" and status["CallDuration"] == "0"


def test_caller_hangs_up_during_a_prompt(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    customer.twiml("/voice", '<Say loop="0">Ne quittez pas</Say>')
    sid = emulator.state.place_call(CALLER, number)
    wait_call(emulator, sid, lambda v: (v["activity"] or {}).get("state") == "say")
    emulator.state.hang_up(sid)
    status = customer.wait_for("/status")[0].params
    assert status["CallStatus"] == "completed"


def test_get_requests_carry_parameters_in_the_query(
    emulator: RunningEmulator, customer: Customer
) -> None:
    emulator.state.configure_number(
        "+33199000016", customer.url("/get?line=pro"), voice_method="GET"
    )
    customer.twiml("/get", "<Say>GET</Say>")
    sid = emulator.state.place_call(CALLER, "+33199000016")
    wait_call(emulator, sid, ended)
    request = customer.wait_for("/get")[0]
    assert request.method == "GET"
    assert request.params["line"] == "pro" and request.params["CallSid"] == sid


def test_a_slow_webhook_times_out_into_the_fallback() -> None:
    emulator = start_emulator(time_scale=TIME_SCALE, webhook_timeout=0.2)
    customer = Customer(emulator.auth_token)
    server = BackgroundServer(customer.app).start()
    customer.base_url = server.base_url
    try:

        def slow(params: dict[str, str]) -> str:
            time.sleep(0.6)
            return "<Response><Say>Trop tard</Say></Response>"

        customer.twiml("/slow", slow)
        customer.twiml("/fallback", "<Say>Secours</Say>")
        emulator.state.configure_number(
            "+33199000016", customer.url("/slow"), fallback_url=customer.url("/fallback")
        )
        sid = emulator.state.place_call(CALLER, "+33199000016")
        view = wait_call(emulator, sid, ended)
        assert customer.wait_for("/fallback")[0].params["ErrorCode"] == "11200"
        assert said(view) == ["Secours"]
    finally:
        emulator.stop()
        server.stop()


def test_plain_text_is_read_and_audio_is_played(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    customer.twiml("/voice", "<Redirect>/text</Redirect>")
    customer.twiml("/text", lambda params: Response("Bonjour en texte", mimetype="text/plain"))
    customer.twiml("/audio", lambda params: Response(b"ID3", mimetype="audio/mpeg"))
    sid = emulator.state.place_call(CALLER, number)
    view = wait_call(emulator, sid, ended)
    assert said(view) == ["Bonjour en texte"]

    emulator.state.configure_number("+33199000016", customer.url("/audio"))
    sid = emulator.state.place_call(CALLER, "+33199000016")
    view = wait_call(emulator, sid, ended)
    plays = [e for e in view["transcript"] if e["kind"] == "play"]
    assert plays[0]["url"] == customer.url("/audio")
