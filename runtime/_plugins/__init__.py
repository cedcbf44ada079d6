"""What a plugin is and gets: the author API, its context, its state hand-off."""
