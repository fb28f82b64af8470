"""What a caller hears and presses: the Twilio voice webhooks, TwiML, French prompts,
signature checks and the hold loop."""
