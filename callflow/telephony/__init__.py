"""The telephony gateway: the Twilio REST client and the built-in Twilio emulator."""
