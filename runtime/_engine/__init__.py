"""The lifecycle engine: the plugin record table, and the engine that moves plugins along."""
