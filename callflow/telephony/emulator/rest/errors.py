"""Twilio's JSON error body, `{code, message, more_info, status}`, and the codes the emulator
answers with (each documented at https://www.twilio.com/docs/errors/<code>):

| code | status | when |
| --- | --- | --- |
| 20001 | 400 | a missing or invalid parameter with no more specific code |
| 20003 | 401 | wrong or missing HTTP Basic credentials |
| 20004 | 405 | a method the resource does not take |
| 20404 | 404 | an unknown resource or SID |
| 21201 | 400 | Calls: no `To` |
| 21205 | 400 | Calls: `Url` missing or not an absolute http(s) URL |
| 21211 | 400 | `To` is not an E.164 number or a `client:` identity |
| 21212 | 400 | `From` is not an E.164 number or a `client:` identity |
| 21213 | 400 | Calls: no `From` |
| 21218 | 400 | Calls: an `ApplicationSid` (the emulator has no TwiML Applications) |
| 21220 | 400 | Calls update on a call that is not in progress |
| 21602 | 400 | Messages: no `Body` (nor `MediaUrl`) |
| 21603 | 400 | Messages: no `From` nor `MessagingServiceSid` |
| 21604 | 400 | Messages: no `To` |
| 21617 | 400 | Messages: `Body` longer than 1600 characters |
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.code, self.message)


def error_body(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def not_found(path: str) -> ApiError:
    return ApiError(404, 20404, f"The requested resource {path} was not found")


def bad_parameter(name: str, detail: str = "") -> ApiError:
    return ApiError(400, 20001, f"Invalid parameter {name}{': ' + detail if detail else ''}")


def missing_parameter(name: str) -> ApiError:
    return ApiError(400, 20001, f"Missing required parameter {name} in the post body")
