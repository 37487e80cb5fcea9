"""Media: probing and validating video, speech-to-text, caption cues and formats, translation, rendering, the asset store."""
