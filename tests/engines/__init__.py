"""Real engines and reference interpreters that run generated queries over events."""
