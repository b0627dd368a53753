"""Text-to-speech providers behind one interface (``base.TextToSpeech``); ``factory.build_tts``."""
