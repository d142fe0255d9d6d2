"""Test doubles: a Bot API emulator over HTTP, a recording BaseRequest and a scripted parser."""
