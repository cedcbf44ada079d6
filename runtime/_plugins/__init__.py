"""What a plugin is and gets: the author API, its context, its delivery gate, its hand-off."""
