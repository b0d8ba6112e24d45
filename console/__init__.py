"""The Textual console and the deskgate CLI: the composition root."""
