"""Hot-reload specification: real files, a real watcher, reload as a transaction of events."""
