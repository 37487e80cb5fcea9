"""The Chorus domain: campaign manifest, languages, platforms, formats, ids, metric vocabulary and settings."""
