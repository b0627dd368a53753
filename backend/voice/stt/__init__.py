"""Speech-to-text providers behind one interface (``base.SpeechToText``); ``factory.build_stt``."""
