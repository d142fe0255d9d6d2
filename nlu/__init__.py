"""Natural-language understanding: training data, parsers and the parse result contract."""
