"""The channel-agnostic dialogue engine: inbound message in, outbound replies out.

`engine.DialogueEngine` is the entry point; `messages` holds what channels hand in and get back.
Nothing is imported here, so a module of the package can be used without loading the engine.
"""
