"""The official `twilio` REST client pointed at an emulator (or any Twilio-compatible base
URL): a re-export of `callflow.telephony.rest_client.twilio_client_for`."""

from callflow.telephony.rest_client import RebasedHttpClient, twilio_client_for

__all__ = ["RebasedHttpClient", "twilio_client_for"]
