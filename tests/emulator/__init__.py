"""Tests of the built-in Twilio emulator."""
