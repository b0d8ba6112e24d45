"""The Textual trading console: the app, its screens and widgets, and the state they show."""
