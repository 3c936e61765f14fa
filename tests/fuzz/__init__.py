"""Fuzzing the whole bot: hostile and random Telegram updates through the real dispatcher."""
