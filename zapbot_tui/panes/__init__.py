"""The console's panes, one module each; every pane renders itself from an EngineSnapshot."""
