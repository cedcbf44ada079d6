"""Settings, resolved in one place (arguments, environment, file, defaults); plugin config."""
