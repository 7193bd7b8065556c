"""The answer engine: normalisation, language, small talk, matching, confidence."""
