"""The reload pipeline: watcher, debouncer, reloader, scheduler, plan, transaction, leak check."""
